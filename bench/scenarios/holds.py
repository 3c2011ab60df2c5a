"""Holds and seat maps (issue 13) at scale s: round(200,000 s) reads of a 208-seat map
(`GET /api/events/{id}/seats`, gzip), as many again with `If-None-Match` (304s), then
round(50,000 s) customers each hold one distinct named seat, then round(2,000 s) (at least
400) customers race for the 208 seats of another event: exactly 208 held, every loser a 409.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import msgspec

from bench.harness import JSON, Harness, scaled
from bench.httpclient import Response
from bench.loadgen import Request
from bench.report import Report, ms, target
from bench.stats import percentile
from bench.storms import Storm, repeated, run_storms, ticket_counts
from bench.tokens import Minter, customer_id, insert_customers

READS, HOLDS, RACERS, SEATS = 200_000, 50_000, 2_000, 208
MAP = {"name": "Plateia", "price_cents": 5000, "rows": 13, "seats_per_row": 16}  # 208 seats
NOT_KEPT = """SELECT count(*) FROM holds h WHERE event_id = ANY($1::uuid[]) AND status = 'active'
    AND quantity <> (SELECT count(*) FROM tickets t WHERE t.hold_id = h.id AND t.status = 'IN_PROGRESS')"""


async def run(h: Harness) -> Report:
    s = h.opts.scale
    n_reads, n_holds, n_racers = scaled(READS, s, 1000), scaled(HOLDS, s, 500), scaled(RACERS, s, 400)
    report = h.new_report("holds and seat maps")
    await insert_customers(h.pg, kind="buyer", count=n_holds + n_racers)
    minter = Minter(h.jwt_secret)
    auth = [
        {"Authorization": f"Bearer {minter.token(customer_id('buyer', i))}", **JSON}
        for i in range(n_holds + n_racers)
    ]
    bodies: list[bytes] = []  # the hold storm's: one named seat each
    etag = ""
    losers: list[float] = []

    def reads(event_id: str, cached: bool = False) -> Iterator[Request]:
        headers = {"Accept-Encoding": "gzip", **({"If-None-Match": etag} if cached else {})}
        return (("GET", f"/api/events/{event_id}/seats", headers, None) for _ in range(n_reads))

    def holds(event_id: str) -> Iterator[Request]:
        seat = msgspec.json.encode({"seat_ids": [event_id]})  # the ceiling's (ZERO_EVENT)
        path = f"/api/events/{event_id}/holds"
        return (("POST", path, auth[i], bodies[i] if bodies else seat) for i in range(n_holds))

    def race(event_id: str) -> Iterator[Request]:
        path = f"/api/events/{event_id}/holds"
        return (("POST", path, auth[i], b'{"quantity":1}') for i in range(n_holds, n_holds + n_racers))

    def lost(_: Request, r: Response) -> None:
        if r.status == 409:
            losers.append(r.elapsed)

    async def prepare() -> dict[str, str]:
        nonlocal etag
        storm = {**MAP, "rows": -(-n_holds // 1000), "seats_per_row": 1000}
        ids = [  # the holds outlive the run: none expires before the checks
            await h.create_event(name=f"Bench {i}", price_cents=None, sections=[x], hold_ttl_s=3600)
            for i, x in enumerate((MAP, MAP, storm))
        ]
        rows = await h.pg.fetch("SELECT id FROM tickets WHERE event_id = $1 ORDER BY id", ids[2])
        bodies.extend(msgspec.json.encode({"seat_ids": [str(r["id"])]}) for r in rows)
        async with httpx.AsyncClient(base_url=h.api_url) as http:
            first = await http.get(f"/api/events/{ids[0]}/seats", headers={"Accept-Encoding": "gzip"})
        etag = first.headers["etag"]
        report.raw.update(map_bytes_gzip=int(first.headers["content-length"]))
        return dict(zip((x.name for x in storms), (ids[0], ids[0], ids[2], ids[1]), strict=True))

    storms = [
        Storm("seat map reads (gzip)", reads, n_reads, {200: n_reads}, 0.17, 25),
        Storm("seat map reads (If-None-Match)", lambda e: reads(e, True), n_reads, {304: n_reads}, 0.17, 25),
        Storm("holds (one seat each)", holds, n_holds, {201: n_holds}, 0.08, 50),
        Storm(f"contention ({n_racers:,} for {SEATS})", race, n_racers, {201: SEATS, 409: n_racers - SEATS}),
    ]
    storms[1].shares_ceiling_of = storms[0].name
    storms[3].shares_ceiling_of, storms[3].on_response = storms[2].name, lost
    ids = await run_storms(h, report, storms, h.budget(max(120.0, (2 * n_reads + n_holds) / 300)), prepare)
    loser_p99 = (percentile(losers, 99) or 0) * 1000
    report.figures[-1].value += f"; losers (409) p99 {ms(loser_p99)}"
    report.figures[-1].target = target(loser_p99 <= 50, "losers p99 ≤ 50 ms")
    storm, contended = ids[storms[2].name], ids[storms[3].name]
    report.check("hold storm: tickets (sold, held)", (0, n_holds), await ticket_counts(h.pg, storm))
    report.check("contention: tickets (sold, held)", (0, SEATS), await ticket_counts(h.pg, contended))
    for event_id in (storm, contended):
        twice = await repeated(h.pg, table="holds", column="customer_id", event_id=event_id)
        report.check("customers with two holds", 0, twice)
    report.check(
        "active holds without exactly their tickets", 0, await h.pg.fetchval(NOT_KEPT, [storm, contended])
    )
    report.raw.update(loser_p99_ms=loser_p99)
    return report
