"""(c) Waiting room: 100,000 visitors join at the opening; admitted visitors hold and
confirm (70%) or abandon (30%).

At scale s: round(100,000 s) visitors, round(10,000 s) tickets of one event with a fifo
waiting room (admission factor 1.0, at most 50 admissions a second, one ticket each).

1. The event is created and its room paused ("opening soon"). Every visitor joins
   (`POST /api/events/{id}/queue`) from 64 connections spread over 1,024 loopback
   addresses (the room limits joins per address, as it should for real visitors). The
   place each visitor is given is their arrival number: nobody is admitted or leaves
   while the room is paused.
2. Up to 1,000 watchers spread evenly over the queue, plus the visitors at the head of
   the queue (a window of 2,000), open the queue WebSocket; the window
   moves as admissions are seen, so every visitor is connected when their turn comes
   (idle visitors further back are not connected: see docs/benchmarks.md).
3. The room is resumed (the opening). Each admitted visitor holds one ticket with their
   Admission-Token, then confirms it (70%) or cancels the hold (30%; visitor i abandons
   when i % 10 < 3).
4. The run ends when PostgreSQL shows every ticket sold and no hold left.

Measured: join rate and latency (and its ceiling: the same client and requests against
the raw ASGI hello), time from the opening to the last sale, the largest
(unused admissions + held tickets) / (tickets left to sell x factor) at any instant of the
sale (replayed afterwards: `admission_bound`), fairness
as Kendall's tau between arrival order and admission order (the `jti` admission counter
in each token), and latencies of what the sockets say: position updates (from the tick
that moved a watcher to the message telling it), admissions, sold out.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from websockets.asyncio.client import ClientConnection, connect

from bench.checks import repeated, ticket_counts
from bench.harness import Harness, scaled
from bench.httpclient import HttpError, HttpPool, Response, source_addresses
from bench.loadgen import Request, drive
from bench.report import Figure, Report, ms, num, pct, target
from bench.stats import kendall_tau, summary_ms
from bench.system import ADMISSION_TTL_S
from bench.tokens import Minter, customer_id_text, insert_customers
from bench.wrk import WrkResult

VISITORS = 100_000
TICKETS = 10_000
# The organizer's knob that protects the backend: about what one API process serves of
# holds and confirms on this machine (at 1,000 a second the full-size sale stalled: the
# stock bound let 10,000 admitted buyers at the API at once; docs/benchmarks.md).
MAX_ADMIT_PER_S = 50
WINDOW = 2_000  # visitors at the head of the queue with their socket open
FACTOR = 1.0
WATCHERS = 1_000
SOURCES = 1_024
ROTATE_AFTER = 50
CARD = "4242424242424242"
CEILING_JOINS = 50_000
ZERO_EVENT = "00000000-0000-4000-8000-000000000000"


def abandons(index: int) -> bool:
    return index % 10 < 3


@dataclass
class Visitor:
    index: int
    token: str
    arrival: int = 0  # place given at the join (1-based) = arrival number
    watcher: bool = False
    connected_at: float = 0.0
    jti: int = 0
    admitted_at: float = 0.0  # the admission's own time (Redis clock)
    admitted_heard: float = 0.0
    positions: list[tuple[float, int]] = field(default_factory=list)
    sold_out_heard: float = 0.0
    outcome: str = ""  # confirmed | abandoned | <error>


def _jti(token: str) -> int:
    payload = token.split(".")[1]
    claims = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(claims["jti"])


class Room:
    """The load side of the room: sockets, the moving window, the visitors' purchases."""

    def __init__(self, h: Harness, event_id: str, visitors: list[Visitor], window: int) -> None:
        self.h = h
        self.event_id = event_id
        self.visitors = visitors
        self.by_arrival: dict[int, Visitor] = {}
        self.window = window
        self.served_seen = 0
        self.next_arrival = 1
        self.actions = HttpPool("127.0.0.1", h.lay.api_port, size=h.opts.connections)
        self.tasks: set[asyncio.Task[None]] = set()
        self.sockets: set[ClientConnection] = set()
        self.errors: dict[str, int] = {}
        self.holds = self.confirms = self.cancels = 0
        self.step_s: dict[str, list[float]] = {"hold": [], "confirm": [], "cancel": []}
        self.stopping = False
        self.ws_base = f"ws://127.0.0.1:{h.lay.api_port}/api/events/{event_id}/queue/ws?token="
        self._connecting = asyncio.Semaphore(64)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def open_watchers_and_window(self) -> None:
        for v in self.visitors:
            self.by_arrival[v.arrival] = v
        await asyncio.gather(*(self._socket(v) for v in self.visitors if v.watcher))
        self.slide()
        deadline = time.monotonic() + 120
        while any(not v.connected_at for a, v in self.by_arrival.items() if a < self.next_arrival):
            if time.monotonic() > deadline or self.errors:
                break
            await asyncio.sleep(0.05)

    def slide(self) -> None:
        """Connect every visitor whose turn is near (arrival <= served + window)."""
        while self.next_arrival <= min(len(self.by_arrival), self.served_seen + self.window):
            v = self.by_arrival[self.next_arrival]
            self.next_arrival += 1
            if not v.watcher:
                self.spawn(self._socket(v))

    async def _socket(self, v: Visitor) -> None:
        try:
            async with self._connecting:
                ws = await connect(
                    self.ws_base + v.token, compression=None, ping_interval=None, open_timeout=60
                )
        except Exception as exc:
            self.error(f"ws connect: {type(exc).__name__}")
            return
        v.connected_at = time.time()
        self.sockets.add(ws)
        if v.watcher:
            self.spawn(self._listen(ws, v))
        else:
            await self._listen(ws, v)

    async def _listen(self, ws: ClientConnection, v: Visitor) -> None:
        try:
            async for raw in ws:
                now = time.time()
                msg = msgspec.json.decode(raw)
                kind = msg.get("type")
                if kind == "position" and msg.get("position") is not None:
                    v.positions.append((now, int(msg["position"])))
                elif kind == "admitted":
                    v.admitted_heard = now
                    v.jti = _jti(msg["admission_token"])
                    expires = dt.datetime.fromisoformat(msg["admission_expires_at"]).timestamp()
                    v.admitted_at = expires - ADMISSION_TTL_S
                    if v.jti > self.served_seen:
                        self.served_seen = v.jti
                        self.slide()
                    self.spawn(self._buy(v, msg["admission_token"]))
                    break
                elif kind == "sold_out":
                    v.sold_out_heard = v.sold_out_heard or now
        except Exception as exc:
            if not self.stopping:
                self.error(f"ws: {type(exc).__name__}")
        finally:
            self.sockets.discard(ws)
            with contextlib.suppress(Exception):
                await ws.close()

    async def _buy(self, v: Visitor, admission: str) -> None:
        auth = {"Authorization": f"Bearer {v.token}", "Content-Type": "application/json"}
        try:
            r = await self.actions.request(
                "POST",
                f"/api/events/{self.event_id}/holds",
                headers={**auth, "Admission-Token": admission},
                body=b'{"quantity":1}',
            )
            if r.status != 201:
                v.outcome = f"hold {r.status}"
                self.error(f"hold {r.status} {r.body[:60]!r}")
                return
            self.step_s["hold"].append(r.elapsed)
            self.holds += 1
            hold_id = msgspec.json.decode(r.body)["id"]
            if abandons(v.index):
                r = await self.actions.request("DELETE", f"/api/holds/{hold_id}", headers=auth)
                if r.status != 204:
                    v.outcome = f"cancel {r.status}"
                    self.error(f"cancel {r.status}")
                    return
                self.step_s["cancel"].append(r.elapsed)
                self.cancels += 1
                v.outcome = "abandoned"
            else:
                r = await self.actions.request(
                    "POST",
                    f"/api/holds/{hold_id}/confirm",
                    headers={**auth, "Idempotency-Key": f"confirm-{v.index}"},
                    body=msgspec.json.encode({"card_number": CARD}),
                )
                if r.status != 200:
                    v.outcome = f"confirm {r.status}"
                    self.error(f"confirm {r.status} {r.body[:60]!r}")
                    return
                self.step_s["confirm"].append(r.elapsed)
                self.confirms += 1
                v.outcome = "confirmed"
        except HttpError as exc:
            v.outcome = "http error"
            self.error(f"http: {exc}"[:80])

    async def close(self) -> None:
        self.stopping = True
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*list(self.tasks), return_exceptions=True)
        await self.actions.close()


@dataclass
class Bound:
    """The admission bound over the whole sale, rebuilt from what happened and when."""

    max_ratio: float = 0.0
    at: dict[str, float] = field(default_factory=dict)
    points: int = 0
    over: int = 0  # instants with (unused admissions + held) > left x factor


def admission_bound(
    visitors: list[Visitor], holds: list[asyncpg.Record], *, capacity: int, factor: float, opened: float
) -> Bound:
    """Replay the sale: an admission is unused from its tick (Redis time, in its token) until
    its visitor's hold starts (or it expires); a hold counts from `created_at` until
    `ended_at`; a confirmed hold is sold from `ended_at`. One machine, one clock. An
    admission is used before its hold's transaction starts, and a ticket given back is
    admitted again only after the cancel commits, so no instant counts anything twice."""
    hold_of = {str(r["customer_id"]): r for r in holds}
    events: list[tuple[float, int, int, int]] = []  # (time, order, d_used, d_sold); ends first
    for v in visitors:
        if not v.jti:
            continue
        events.append((v.admitted_at, 1, +1, 0))
        r = hold_of.get(customer_id_text("visitor", v.index))
        if r is None:
            events.append((v.admitted_at + ADMISSION_TTL_S, 0, -1, 0))
            continue
        events.append((r["created_at"].timestamp(), 0, 0, 0))  # admission -> hold: used unchanged
        if r["ended_at"] is not None:
            events.append((r["ended_at"].timestamp(), 0, -1, 1 if r["status"] == "confirmed" else 0))
    events.sort()
    bound = Bound()
    used = sold = 0
    for t, _, d_used, d_sold in events:
        used += d_used
        sold += d_sold
        limit = (capacity - sold) * factor
        ratio = used / limit if limit > 0 else (0.0 if used <= 0 else float("inf"))
        bound.points += 1
        if ratio > 1.0 + 1e-9:
            bound.over += 1
        if ratio > bound.max_ratio:
            bound.max_ratio = ratio
            bound.at = {"s_after_opening": round(t - opened, 3), "used": used, "sold": sold}
    return bound


async def _join_all(h: Harness, event_id: str, visitors: list[Visitor]) -> WrkResult:
    """Every visitor joins once; each keeps the place (arrival number) it was given."""
    pool = HttpPool(
        "127.0.0.1", h.lay.api_port, size=h.opts.connections, sources=source_addresses(SOURCES),
        rotate_after=ROTATE_AFTER,
    )  # fmt: skip
    by_auth = {f"Bearer {v.token}": v for v in visitors}

    def placed(req: Request, r: Response) -> None:
        if r.status == 200:
            by_auth[req[2]["Authorization"]].arrival = int(msgspec.json.decode(r.body)["position"])

    budget_s = h.budget(max(120.0, len(visitors) / 100))
    try:
        return await drive(
            pool, _join_requests(event_id, visitors), concurrency=h.opts.connections, budget_s=budget_s,
            on_response=placed,
        )  # fmt: skip
    finally:
        await pool.close()


def _join_requests(event_id: str, visitors: list[Visitor]) -> Iterator[Request]:
    path = f"/api/events/{event_id}/queue"
    for v in visitors:
        yield ("POST", path, {"Authorization": f"Bearer {v.token}"}, None)


async def _join_ceiling(h: Harness, visitors: list[Visitor]) -> WrkResult | None:
    """The same client, settings and requests against the raw ASGI hello."""
    if not h.opts.ceiling:
        return None
    await asyncio.to_thread(h.sys.start_hello)
    pool = HttpPool(
        "127.0.0.1", h.lay.hello_port, size=h.opts.connections, sources=source_addresses(SOURCES),
        rotate_after=ROTATE_AFTER,
    )  # fmt: skip
    try:
        rounds = -(-CEILING_JOINS // len(visitors))
        some = (visitors * rounds)[:CEILING_JOINS]
        return await drive(
            pool, _join_requests(ZERO_EVENT, some), concurrency=h.opts.connections, budget_s=300
        )
    finally:
        await pool.close()
        await asyncio.to_thread(h.sys.stop, "hello")


async def run(h: Harness) -> Report:
    scale = h.opts.scale
    n = scaled(VISITORS, scale, 100)
    tickets = scaled(TICKETS, scale, 10)
    budget_s = h.budget(max(300.0, n / 50))
    report = h.new_report(
        "c", "waiting room", driver="asyncio client (bench/httpclient.py) over 1,024 loopback addresses"
    )
    minter = Minter(h.sys.jwt_secret)

    await insert_customers(h.pg, kind="visitor", count=n)
    every = max(1, n // WATCHERS)
    visitors = [
        Visitor(index=i, token=minter.token(customer_id_text("visitor", i)), watcher=i % every == 0)
        for i in range(n)
    ]
    ceiling = await _join_ceiling(h, visitors)

    await h.start_system()
    event = await h.create_event(
        name="Waiting room sale",
        venue="Bench Hall",
        starts_at=(dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        price_cents=5000,
        capacity=tickets,
        max_per_customer=1,
        hold_ttl_s=120,
        waiting_room={
            "enabled": True,
            "admission_factor": FACTOR,
            "prequeue": "fifo",
            "max_admit_per_s": MAX_ADMIT_PER_S,
        },
    )
    event_id = str(event["id"])
    async with h.admin() as admin:
        r = await admin.patch(f"/api/events/{event_id}/waiting-room", json={"paused": True})
        if r.status_code != 200:
            raise RuntimeError(f"pausing the room answered {r.status_code}: {r.text[:200]}")
    await h.start_memory()

    joins = await _join_all(h, event_id, visitors)
    arrivals = sorted(v.arrival for v in visitors if v.arrival)

    room = Room(h, event_id, visitors, window=WINDOW)
    await room.open_watchers_and_window()
    await asyncio.sleep(1.0)  # subscriptions settle; watchers hear a position or two

    opened = time.time()
    async with h.admin() as admin:
        r = await admin.patch(f"/api/events/{event_id}/waiting-room", json={"paused": False})
        if r.status_code != 200:
            raise RuntimeError(f"opening the room answered {r.status_code}: {r.text[:200]}")

    deadline = time.monotonic() + budget_s
    sold_out = False
    while time.monotonic() < deadline:
        row = await h.pg.fetchrow(
            """SELECT count(*) FILTER (WHERE status = 'BOOKED') AS sold,
                      count(*) FILTER (WHERE status = 'IN_PROGRESS') AS held
               FROM tickets WHERE event_id = $1""",
            event_id,
        )
        assert row is not None
        if row["sold"] == tickets and row["held"] == 0:
            sold_out = True
            break
        h.sys.check_alive()
        await asyncio.sleep(0.2)
    # Let the watchers still waiting hear "sold out" (the next tick, within ~2 s).
    waiting_watchers = [v for v in visitors if v.watcher and not v.jti]
    settle = time.monotonic() + 5
    while any(not v.sold_out_heard for v in waiting_watchers):
        if time.monotonic() > settle:
            break
        await asyncio.sleep(0.1)
    await room.close()
    peaks = await h.stop_memory()

    last_sale = await h.pg.fetchval("SELECT max(created_at) FROM purchases WHERE event_id = $1", event_id)
    sell_out_s = last_sale.timestamp() - opened if sold_out and last_sale else None

    admitted = [v for v in visitors if v.jti]
    tau = kendall_tau([v.arrival for v in admitted], [v.jti for v in admitted]) if len(admitted) > 1 else None
    prefix_ok = sorted(v.arrival for v in admitted) == list(range(1, len(admitted) + 1))

    # Position-update latency: a watcher at arrival a told position p has heard of the
    # admissions up to number a - p; that admission's tick happened at admitted_at.
    admitted_time = {v.jti: v.admitted_at for v in admitted}
    position_lat: list[float] = []
    for v in visitors:
        if not v.watcher:
            continue
        seen = -1
        for t_recv, p in v.positions:
            served = v.arrival - p
            if served > seen:
                if seen >= 0 and served in admitted_time:
                    position_lat.append(max(0.0, t_recv - admitted_time[served]))
                seen = served
    admit_lat = [
        v.admitted_heard - v.admitted_at
        for v in admitted
        if v.connected_at and v.connected_at < v.admitted_at
    ]
    sold_lat = [
        v.sold_out_heard - last_sale.timestamp() for v in waiting_watchers if v.sold_out_heard and last_sale
    ]
    pos_s, adm_s, sold_s = summary_ms(position_lat), summary_ms(admit_lat), summary_ms(sold_lat)

    outcome = await _outcome(h, event_id)
    holds = await h.pg.fetch(
        "SELECT customer_id, status, created_at, ended_at FROM holds WHERE event_id = $1", event_id
    )
    bound = admission_bound(visitors, list(holds), capacity=tickets, factor=FACTOR, opened=opened)
    await asyncio.to_thread(_dump, h.out / "visitors.jsonl", visitors, opened)
    ratio = pct(joins.rate, ceiling.rate if ceiling else None)
    report.ceiling.append(
        f"queue join shape: {num(ceiling.rate)} req/s, p50 {ms(ceiling.latency_ms.get('p50'))}, p99 "
        f"{ms(ceiling.latency_ms.get('p99'))} ({num(ceiling.requests)} requests; raw ASGI hello, "
        "same uvicorn flags, same core, same asyncio client and settings)"
        if ceiling
        else "queue join shape: not measured (--no-ceiling)"
    )
    statuses = ", ".join(f"{k}: {num(v)}" for k, v in sorted(joins.statuses.items()))
    report.figures += [
        Figure(
            "visitors / tickets",
            f"{num(n)} / {num(tickets)} (admission ≤ {MAX_ADMIT_PER_S}/s, factor {FACTOR})",
        ),
        Figure("joins (by status)", f"{num(joins.requests)} ({statuses})"),
        Figure("join rate", f"{num(joins.rate)} joins/s over {joins.seconds:.1f} s", ratio),
        Figure(
            "join latency p50 / p95 / p99",
            " / ".join(ms(joins.latency_ms.get(k)) for k in ("p50", "p95", "p99")),
        ),
        Figure(
            "time from the opening to the last sale",
            f"{sell_out_s:.1f} s" if sell_out_s is not None else "not sold out",
        ),
        Figure(
            "admitted / held / confirmed / abandoned",
            f"{num(len(admitted))} / {num(room.holds)} / {num(room.confirms)} / {num(room.cancels)}",
        ),
        Figure(
            "max (unused admissions + holds) / (left x factor)",
            f"{bound.max_ratio:.3f} over {num(bound.points)} instants {bound.at}",
            "",
            target(bound.max_ratio <= 1.0, "≤ 1.0"),
        ),
        Figure(
            "fairness: Kendall tau (arrival, admission)",
            f"{tau:.6f}" if tau is not None else "n/a",
            "",
            target(tau == 1.0, "1.0 (fifo)"),
        ),
        Figure(
            "position update latency p50 / p99 (n)",
            f"{ms(pos_s['p50'])} / {ms(pos_s['p99'])} (n = {pos_s['n']}, "
            f"{sum(v.watcher for v in visitors)} watchers)",
        ),
        Figure(
            "admission → visitor latency p50 / p99 (n)",
            f"{ms(adm_s['p50'])} / {ms(adm_s['p99'])} (n = {adm_s['n']})",
        ),
        Figure(
            "last sale → 'sold out' heard p50 / p99 (n)",
            f"{ms(sold_s['p50'])} / {ms(sold_s['p99'])} (n = {sold_s['n']})",
        ),
        Figure(
            "hold / confirm / cancel latency p50 / p99 (sent → answered, 64 connections)",
            "; ".join(
                f"{step} {ms(s['p50'])} / {ms(s['p99'])}"
                for step, s in ((k, summary_ms(v)) for k, v in room.step_s.items())
            ),
        ),
        Figure("load-side errors", ", ".join(f"{k}: {v}" for k, v in room.errors.items()) or "none"),
    ]
    h.memory_figures(report, peaks)
    report.check("every visitor joined (200)", n, joins.statuses.get(200, 0))
    report.check("places given are the arrival numbers 1..n", True, arrivals == list(range(1, n + 1)))
    report.check("sold out within the budget", True, sold_out)
    report.check(
        "tickets sold (BOOKED) = purchases = confirmed holds",
        (tickets,) * 3,
        (outcome["booked"], outcome["purchases"], outcome["confirmed_holds"]),
    )
    report.check("visitors with more than one ticket", 0, outcome["dup_purchases"])
    report.check("tickets sold twice", 0, outcome["dup_tickets"])
    report.check("holds left active", 0, outcome["active_holds"])
    report.check("admission bound never exceeded (instants over 1.0)", 0, bound.over)
    report.check("fairness: Kendall tau (fifo)", 1.0, tau)
    report.check("admitted visitors are exactly the first arrivals", True, prefix_ok)
    report.check(
        "every admitted visitor got a hold and finished", len(admitted), room.confirms + room.cancels
    )
    report.check("load-side errors", {}, room.errors)
    report.raw.update(
        visitors=n,
        tickets=tickets,
        joins=joins.figures(),
        ceiling=ceiling.figures() if ceiling else None,
        sell_out_s=sell_out_s,
        bound={"max": bound.max_ratio, "points": bound.points, "at": bound.at},
        tau=tau,
        position=pos_s,
        admission=adm_s,
        sold_out=sold_s,
        admitted=len(admitted),
        outcome=outcome,
    )
    return report


def _dump(path: Path, visitors: list[Visitor], opened: float) -> None:
    """What each watcher and admitted visitor saw, for a closer look after the run."""
    enc = msgspec.json.Encoder()
    with path.open("wb") as f:
        f.write(enc.encode({"opened": opened}) + b"\n")
        for v in visitors:
            if v.watcher or v.jti:
                f.write(enc.encode({**v.__dict__, "token": None}) + b"\n")


async def _outcome(h: Harness, event_id: str) -> dict[str, Any]:
    pg = h.pg
    booked, _ = await ticket_counts(pg, event_id)
    purchases = await pg.fetchval("SELECT count(*) FROM purchases WHERE event_id = $1", event_id)
    holds = await pg.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
                  count(*) FILTER (WHERE status = 'active') AS active
           FROM holds WHERE event_id = $1""",
        event_id,
    )
    assert holds is not None
    dup_purchases = await repeated(pg, table="purchases", column="customer_id", event_id=event_id)
    dup_tickets = await repeated(pg, table="purchases", column="ticket_id")
    return {
        "booked": booked,
        "purchases": purchases,
        "confirmed_holds": holds["confirmed"],
        "active_holds": holds["active"],
        "dup_purchases": dup_purchases,
        "dup_tickets": dup_tickets,
    }
