"""The challenge contract under load (scale s): round(300,000 s) `GET /eventos/:id` of
"Show de Rock", then round(100,000 s) distinct clients each send one `POST /compras` for
"Concerto de Jazz" (capacity 50, 45 sold by the seed). Exactly 5 get 201, the rest 422;
each storm has its own ceiling.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import msgspec

from bench.harness import JSON, Harness, scaled
from bench.loadgen import Request
from bench.report import Report
from bench.storms import Storm, check_sold_once, run_storms, ticket_counts
from bench.tokens import PREFIX, customer_id_text, insert_customers

READS, CLIENTS = 300_000, 100_000
ROCK = "550e8400-e29b-41d4-a716-446655440001"
JAZZ = "550e8400-e29b-41d4-a716-446655440003"
JAZZ_CAPACITY, JAZZ_SOLD = 50, 45
BY_CLIENTS = "SELECT count(*) FROM purchases WHERE event_id = $1 AND customer_id::text LIKE $2"


def reads(n: int) -> Iterator[Request]:
    return (("GET", f"/eventos/{ROCK}", {}, None) for _ in range(n))


def purchases(n: int) -> Iterator[Request]:
    for i in range(n):
        body = msgspec.json.encode({"cliente_id": customer_id_text("client", i), "evento_id": JAZZ})
        yield ("POST", "/compras", JSON, body)


async def run(h: Harness) -> Report:
    n_reads, clients = scaled(READS, h.opts.scale, 1000), scaled(CLIENTS, h.opts.scale, 100)
    winners = min(JAZZ_CAPACITY - JAZZ_SOLD, clients)
    report = h.new_report("challenge contract")

    await insert_customers(h.pg, kind="client", count=clients, with_cpf=True)
    bought = {201: winners, 422: clients - winners}
    storms = [
        Storm("read storm", lambda _: reads(n_reads), n_reads, {200: n_reads}),
        Storm("purchase storm", lambda _: purchases(clients), clients, bought),
    ]
    await run_storms(h, report, storms, h.budget(max(120.0, (n_reads + clients) / 500)))
    async with httpx.AsyncClient(base_url=h.api_url, timeout=30) as http:
        evento = (await http.get(f"/eventos/{JAZZ}")).json()

    booked, _ = await ticket_counts(h.pg, JAZZ)
    by_clients = await h.pg.fetchval(BY_CLIENTS, JAZZ, PREFIX["client"] + "-%")
    sold_ok = booked <= JAZZ_CAPACITY and booked == JAZZ_SOLD + winners
    report.check("sold ≤ capacity (tickets BOOKED)", JAZZ_SOLD + winners, booked, sold_ok)
    report.check("purchases by the storm's clients", winners, by_clients)
    await check_sold_once(report, h.pg, JAZZ, who="clients")
    seen = {k: evento.get(k) for k in ("ingressos_vendidos", "status")}
    sold_out = {"ingressos_vendidos": JAZZ_CAPACITY, "status": "esgotado"}
    report.check("GET /eventos/:id after the storm", sold_out, seen)
    report.raw.update(reads=n_reads, clients=clients)
    return report
