"""(a) The challenge contract under load: a read storm, then a purchase storm.

At scale s:
- read storm: round(300,000 s) `GET /eventos/550e8400-…-446655440001` ("Show de Rock");
- purchase storm: round(100,000 s) distinct clients (written in bulk, cpf and all) each
  send one `POST /compras` for "Concerto de Jazz" (…440003: capacity 50, 45 sold by the
  seed, i.e. 90% sold), all at 64 connections;
- consistency from PostgreSQL: sold ≤ capacity (exactly 50 once 5 or more clients tried),
  exactly 5 answers 201 and the rest 422, one ticket per client, no ticket sold twice.

Each storm has its own ceiling: the same wrk script against the raw ASGI hello.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx

from bench.checks import repeated, ticket_counts
from bench.harness import Harness, scaled
from bench.report import Figure, Report, ms, num, pct
from bench.tokens import PREFIX, insert_customers
from bench.wrk import WrkResult

READS = 300_000
CLIENTS = 100_000
ROCK = "550e8400-e29b-41d4-a716-446655440001"
JAZZ = "550e8400-e29b-41d4-a716-446655440003"
JAZZ_CAPACITY, JAZZ_SOLD = 50, 45


def _storm_figures(report: Report, name: str, result: WrkResult, ceiling: WrkResult | None) -> None:
    statuses = ", ".join(f"{k}: {num(v)}" for k, v in sorted(result.statuses.items()))
    report.figures += [
        Figure(
            f"{name}: requests (by status)",
            f"{num(result.requests)} ({statuses}); socket errors {result.socket_errors}",
        ),
        Figure(
            f"{name}: rate",
            f"{num(result.rate)} req/s over {result.seconds:.1f} s",
            pct(result.rate, ceiling.rate if ceiling else None),
        ),
        Figure(
            f"{name}: latency p50 / p95 / p99 / max",
            " / ".join(ms(result.latency_ms.get(k)) for k in ("p50", "p95", "p99", "max")),
        ),
    ]


async def run(h: Harness) -> Report:
    scale = h.opts.scale
    reads = scaled(READS, scale, 1000)
    clients = scaled(CLIENTS, scale, 100)
    budget_s = h.budget(max(120.0, (reads + clients) / 500))
    report = h.new_report("a", "challenge contract")
    if not h.opts.use_wrk:
        raise RuntimeError("the challenge scenario needs wrk (apt-get install wrk)")

    await insert_customers(h.pg, kind="client", count=clients, with_cpf=True)
    read_args = [f"/eventos/{ROCK}"]
    buy_args = [JAZZ, PREFIX["client"]]
    ceiling_read = await h.ceiling("get.lua", read_args, limit=reads, label="read")
    ceiling_buy = await h.ceiling("compras.lua", buy_args, limit=clients, label="compras")

    await h.start_system()
    await h.start_memory()
    read = await h.run_wrk("get.lua", read_args, limit=reads, budget_s=budget_s, label="read")
    buy = await h.run_wrk("compras.lua", buy_args, limit=clients, budget_s=budget_s, label="compras")
    peaks = await h.stop_memory()

    async with httpx.AsyncClient(base_url=h.lay.api_url, timeout=30) as http:
        evento = (await http.get(f"/eventos/{JAZZ}")).json()

    report.ceiling.append(h.ceiling_line(ceiling_read, "GET /eventos/:id shape"))
    report.ceiling.append(h.ceiling_line(ceiling_buy, "POST /compras shape"))
    _storm_figures(report, "read storm", read, ceiling_read)
    _storm_figures(report, "purchase storm", buy, ceiling_buy)
    h.memory_figures(report, peaks)

    pg = h.pg
    booked, _ = await ticket_counts(pg, JAZZ)
    by_clients = await pg.fetchval(
        "SELECT count(*) FROM purchases WHERE event_id = $1 AND customer_id::text LIKE $2",
        JAZZ,
        PREFIX["client"] + "-%",
    )
    dup_clients = await repeated(pg, table="purchases", column="customer_id", event_id=JAZZ)
    dup_tickets = await repeated(pg, table="purchases", column="ticket_id")
    left = JAZZ_CAPACITY - JAZZ_SOLD
    winners = min(left, clients)
    report.check(
        "every read answered 200 within the budget", (reads, True), (read.statuses.get(200, 0), read.complete)
    )
    report.check("every purchase answered within the budget", (clients, True), (buy.requests, buy.complete))
    report.check("purchases answered 201", winners, buy.statuses.get(201, 0))
    report.check("purchases answered 422 (sold out)", clients - winners, buy.statuses.get(422, 0))
    report.check(
        "no other status and no socket error",
        0,
        buy.requests
        - buy.statuses.get(201, 0)
        - buy.statuses.get(422, 0)
        + buy.socket_errors
        + read.socket_errors,
    )
    report.check(
        "sold ≤ capacity (tickets BOOKED)",
        JAZZ_SOLD + winners,
        booked,
        booked <= JAZZ_CAPACITY and booked == JAZZ_SOLD + winners,
    )
    report.check("purchases by the storm's clients", winners, by_clients)
    report.check("clients with more than one ticket", 0, dup_clients)
    report.check("tickets sold twice", 0, dup_tickets)
    report.check(
        "GET /eventos/:id after the storm",
        {"ingressos_vendidos": JAZZ_CAPACITY, "status": "esgotado"},
        {"ingressos_vendidos": evento.get("ingressos_vendidos"), "status": evento.get("status")},
    )
    report.raw.update(
        reads=reads,
        clients=clients,
        read=read.figures(),
        purchase=buy.figures(),
        ceiling_read=ceiling_read.figures() if ceiling_read else None,
        ceiling_purchase=ceiling_buy.figures() if ceiling_buy else None,
        at=dt.datetime.now(dt.UTC).isoformat(),
    )
    await asyncio.sleep(0)
    return report
