"""The challenge contract under load (scale s): round(300,000 s) `GET /eventos/:id` of
"Show de Rock", then round(100,000 s) distinct clients each send one `POST /compras` for
"Concerto de Jazz" (capacity 50, 45 sold by the seed). Exactly 5 get 201, the rest 422;
each storm has its own ceiling.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import msgspec

from bench.checks import check_sold_once, ticket_counts
from bench.harness import Harness, scaled
from bench.loadgen import Request
from bench.report import Report
from bench.tokens import PREFIX, customer_id_text, insert_customers

READS = 300_000
CLIENTS = 100_000
ROCK = "550e8400-e29b-41d4-a716-446655440001"
JAZZ = "550e8400-e29b-41d4-a716-446655440003"
JAZZ_CAPACITY, JAZZ_SOLD = 50, 45
JSON = {"Content-Type": "application/json"}


def reads(n: int) -> Iterator[Request]:
    return (("GET", f"/eventos/{ROCK}", {}, None) for _ in range(n))


def purchases(n: int) -> Iterator[Request]:
    for i in range(n):
        body = msgspec.json.encode({"cliente_id": customer_id_text("client", i), "evento_id": JAZZ})
        yield ("POST", "/compras", JSON, body)


async def run(h: Harness) -> Report:
    n_reads = scaled(READS, h.opts.scale, 1000)
    clients = scaled(CLIENTS, h.opts.scale, 100)
    budget_s = h.budget(max(120.0, (n_reads + clients) / 500))
    report = h.new_report("challenge contract")

    await insert_customers(h.pg, kind="client", count=clients, with_cpf=True)
    ceiling_read = await h.ceiling(lambda: reads(n_reads), n_reads)
    ceiling_buy = await h.ceiling(lambda: purchases(clients), clients)

    await h.start_system()
    read = await h.load(reads(n_reads), budget_s=budget_s)
    buy = await h.load(purchases(clients), budget_s=budget_s)
    await h.stop_memory(report)
    async with httpx.AsyncClient(base_url=h.api_url, timeout=30) as http:
        evento = (await http.get(f"/eventos/{JAZZ}")).json()

    report.load_figures("read storm", read, ceiling_read)
    report.load_figures("purchase storm", buy, ceiling_buy)

    pg = h.pg
    booked, _ = await ticket_counts(pg, JAZZ)
    by_clients = await pg.fetchval(
        "SELECT count(*) FROM purchases WHERE event_id = $1 AND customer_id::text LIKE $2",
        JAZZ,
        PREFIX["client"] + "-%",
    )
    winners = min(JAZZ_CAPACITY - JAZZ_SOLD, clients)
    report.check(
        "every read answered 200 within the budget",
        (n_reads, True),
        (read.statuses.get(200, 0), read.complete),
    )
    report.check("every purchase answered within the budget", (clients, True), (buy.requests, buy.complete))
    report.check("purchases answered 201", winners, buy.statuses.get(201, 0))
    report.check("purchases answered 422 (sold out)", clients - winners, buy.statuses.get(422, 0))
    others = buy.requests - buy.statuses.get(201, 0) - buy.statuses.get(422, 0)
    report.check("no other status and no error", 0, others + buy.errors + read.errors)
    report.check(
        "sold ≤ capacity (tickets BOOKED)",
        JAZZ_SOLD + winners,
        booked,
        booked <= JAZZ_CAPACITY and booked == JAZZ_SOLD + winners,
    )
    report.check("purchases by the storm's clients", winners, by_clients)
    await check_sold_once(report, pg, JAZZ, who="clients")
    report.check(
        "GET /eventos/:id after the storm",
        {"ingressos_vendidos": JAZZ_CAPACITY, "status": "esgotado"},
        {"ingressos_vendidos": evento.get("ingressos_vendidos"), "status": evento.get("status")},
    )
    report.raw.update(
        reads=n_reads,
        clients=clients,
        read=read.figures(),
        purchase=buy.figures(),
        ceiling_read=ceiling_read.figures() if ceiling_read else None,
        ceiling_purchase=ceiling_buy.figures() if ceiling_buy else None,
    )
    return report
