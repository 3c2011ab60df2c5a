"""Waiting room: round(100,000 s) visitors for round(10,000 s) tickets of one event with a
fifo room (scale s; admission factor 1.0, at most 50 admissions a second).

The room is paused while every visitor joins (from 1,024 loopback addresses: the room
limits joins per address), so each place is an arrival number. 1,000 watchers spread over
the queue and the 2,000 visitors at its head (a window moving with the admissions) open
the queue WebSocket (a one-use ticket each). The room opens; each admitted visitor holds a
ticket with their Admission-Token, then confirms (70%) or cancels (30%: i % 10 < 3). Checked:
fairness (Kendall's tau of arrival and admission order, from each token's `jti`), the admission
bound (`admission_bound`), the ETA's error (first estimate shown vs admission); docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

from bench.harness import ADMISSION_TTL_S, Harness, scaled
from bench.httpclient import HttpError, HttpPool, Response, source_addresses
from bench.loadgen import Request, Sockets
from bench.report import Figure, Report, ms, num, target
from bench.stats import kendall_tau, percentile, summary_ms
from bench.storms import Storm, check_sold_once, load, measure_ceilings, report_storm, ticket_counts
from bench.tokens import Minter, customer_id_text, insert_customers

VISITORS, TICKETS = 100_000, 10_000
# The organizer's knob that protects the backend: about what one API process serves of
# holds and confirms on this machine (at 1,000 a second the full-size sale stalled: the
# stock bound let 10,000 admitted buyers at the API at once; docs/benchmarks.md).
MAX_ADMIT_PER_S = 50
WINDOW = 2_000  # visitors at the head of the queue with their socket open
FACTOR = 1.0
WATCHERS, SOURCES = 1_000, 1_024  # watchers spread over the queue; loopback addresses joining
ETA_MIN_WAIT_S = 5.0  # ETA error over waits at least this long (estimates are whole seconds)
CONFIRM = b'{"payment_method":"pm_card_visa"}'  # the stub's test payment method of 4242...


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
    first_eta: tuple[float, int] | None = None  # (time, eta_s) of the first estimate shown
    sold_out_heard: float = 0.0


def _jti(token: str) -> int:
    payload = token.split(".")[1]
    claims = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return int(claims["jti"])


class Room(Sockets):
    """The load side of the room: sockets, the moving window, the visitors' purchases."""

    def __init__(self, h: Harness, event_id: str, visitors: list[Visitor], window: int) -> None:
        super().__init__()
        self.event_id = event_id
        self.visitors = visitors
        self.by_arrival: dict[int, Visitor] = {}
        self.window = window
        self.served_seen = 0
        self.next_arrival = 1
        self.actions = HttpPool("127.0.0.1", h.api_port, size=h.opts.connections)
        self.done = {"ticket": 0, "hold": 0, "confirm": 0, "cancel": 0}
        self.ws_base = f"ws://127.0.0.1:{h.api_port}/api/events/{event_id}/queue/ws?ticket="

    async def open_watchers_and_window(self) -> None:
        for v in self.visitors:
            self.by_arrival[v.arrival] = v
        await asyncio.gather(*(self._socket(v) for v in self.visitors if v.watcher))
        self.slide()
        deadline = time.monotonic() + 120
        while any(not self.by_arrival[a].connected_at for a in range(1, self.next_arrival)):
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
        auth = {"Authorization": f"Bearer {v.token}"}  # a one-use ticket opens the socket
        ticket = await self._step("ticket", 201, "POST", "/api/ws-tickets", auth)
        url = self.ws_base + msgspec.json.decode(ticket)["ticket"] if ticket else ""
        if url and await self.listen(url, lambda msg, now: self._heard(v, msg, now)):
            v.connected_at = time.time()  # before the reader task reads anything

    def _heard(self, v: Visitor, msg: Any, now: float) -> bool:
        kind = msg.get("type")
        if kind == "position" and msg.get("position") is not None:
            v.positions.append((now, int(msg["position"])))
            if v.first_eta is None and msg.get("eta_s") is not None:
                v.first_eta = (now, int(msg["eta_s"]))
        elif kind == "admitted":
            v.admitted_heard = now
            v.jti = _jti(msg["admission_token"])
            expires = dt.datetime.fromisoformat(msg["admission_expires_at"]).timestamp()
            v.admitted_at = expires - ADMISSION_TTL_S
            if v.jti > self.served_seen:
                self.served_seen = v.jti
                self.slide()
            self.spawn(self._buy(v, msg["admission_token"]))
            return True
        elif kind == "sold_out":
            v.sold_out_heard = v.sold_out_heard or now
        return False

    async def _step(self, step: str, ok: int, method: str, path: str, headers: dict[str, str]) -> bytes:
        """One request of a visitor's purchase; its body, or b"" (and an error) when not `ok`."""
        body = {"hold": b'{"quantity":1}', "confirm": CONFIRM}.get(step)
        try:
            r = await self.actions.request(method, path, headers=headers, body=body)
        except HttpError as exc:
            self.error(f"{step}: {exc}"[:80])
            return b""
        if r.status != ok:
            self.error(f"{step} {r.status} {r.body[:60]!r}")
            return b""
        self.done[step] += 1
        return r.body or b"{}"

    async def _buy(self, v: Visitor, admission: str) -> None:
        auth = {"Authorization": f"Bearer {v.token}", "Content-Type": "application/json"}
        holds = f"/api/events/{self.event_id}/holds"
        hold = await self._step("hold", 201, "POST", holds, {**auth, "Admission-Token": admission})
        if not hold:
            return
        path = f"/api/holds/{msgspec.json.decode(hold)['id']}"
        if v.index % 10 < 3:  # abandons
            await self._step("cancel", 204, "DELETE", path, auth)
        else:
            key = {"Idempotency-Key": f"c-{v.index}"}
            await self._step("confirm", 200, "POST", f"{path}/confirm", {**auth, **key})

    async def close(self) -> None:
        await super().close()
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


def _storm(visitors: list[Visitor]) -> Storm:
    """Every visitor joins once; each keeps the place (arrival number) it was given."""
    by_auth = {f"Bearer {v.token}": v for v in visitors}

    def joins(event_id: str) -> Iterator[Request]:
        path = f"/api/events/{event_id}/queue"
        return (("POST", path, {"Authorization": auth}, None) for auth in by_auth)

    def placed(req: Request, r: Response) -> None:
        if r.status == 200:
            by_auth[req[2]["Authorization"]].arrival = int(msgspec.json.decode(r.body)["position"])

    n = len(visitors)
    sources = source_addresses(SOURCES)
    return Storm("joins", joins, n, {200: n}, on_response=placed, sources=sources)


async def run(h: Harness) -> Report:
    n, tickets = scaled(VISITORS, h.opts.scale, 100), scaled(TICKETS, h.opts.scale, 10)
    budget_s = h.budget(max(300.0, n / 50))
    report = h.new_report("waiting room")
    report.settings += f"; joins from {SOURCES:,} loopback addresses"

    await insert_customers(h.pg, kind="visitor", count=n)
    every, token = max(1, n // WATCHERS), Minter(h.jwt_secret).token
    visitors = [Visitor(i, token(customer_id_text("visitor", i)), watcher=i % every == 0) for i in range(n)]
    storm = _storm(visitors)
    await measure_ceilings(h, [storm])

    await h.start_system()
    wr = dict(enabled=True, admission_factor=FACTOR, prequeue="fifo", max_admit_per_s=MAX_ADMIT_PER_S)
    event_id = await h.create_event(
        name="Waiting room sale", venue="Bench Hall", capacity=tickets, hold_ttl_s=120, waiting_room=wr
    )  # one ticket per customer: the default max_per_customer
    await _pause(h, event_id, paused=True)

    await load(h, storm, event_id, h.budget(max(120.0, n / 100)))
    arrivals = sorted(v.arrival for v in visitors if v.arrival)

    room = Room(h, event_id, visitors, window=WINDOW)
    await room.open_watchers_and_window()
    await asyncio.sleep(1.0)  # subscriptions settle; watchers hear a position or two

    opened = time.time()
    await _pause(h, event_id, paused=False)

    async def all_sold() -> bool:
        return await ticket_counts(h.pg, event_id) == (tickets, 0)

    async def all_told() -> bool:  # the watchers still waiting hear "sold out" at the next tick
        return all(v.sold_out_heard for v in waiting_watchers)

    sold_out = await h.wait_until(all_sold, budget_s)
    waiting_watchers = [v for v in visitors if v.watcher and not v.jti]
    await h.wait_until(all_told, 5, poll_s=0.1)
    await room.close()
    await h.stop_memory(report)

    last_sale = await h.pg.fetchval("SELECT max(created_at) FROM purchases WHERE event_id = $1", event_id)
    sell_out_s = last_sale.timestamp() - opened if sold_out and last_sale else None

    admitted = [v for v in visitors if v.jti]
    tau = kendall_tau([v.arrival for v in admitted], [v.jti for v in admitted]) if len(admitted) > 1 else None
    prefix_ok = sorted(v.arrival for v in admitted) == list(range(1, len(admitted) + 1))

    # Position-update latency: a watcher at arrival a told position p has heard of the
    # admissions up to number a - p; that admission's tick happened at admitted_at.
    admitted_time = {v.jti: v.admitted_at for v in admitted}
    position_lat: list[float] = []
    for v in filter(lambda v: v.watcher, visitors):
        seen = -1
        for t_recv, p in v.positions:
            served = v.arrival - p
            if served > seen:
                if seen >= 0 and served in admitted_time:
                    position_lat.append(max(0.0, t_recv - admitted_time[served]))
                seen = served
    admit_lat = [v.admitted_heard - v.admitted_at for v in admitted if 0 < v.connected_at < v.admitted_at]
    last = last_sale.timestamp() if last_sale else 0.0
    sold_lat = [v.sold_out_heard - last for v in waiting_watchers if v.sold_out_heard and last]
    pos_s, adm_s, sold_s = summary_ms(position_lat), summary_ms(admit_lat), summary_ms(sold_lat)
    # ETA honesty: all joined while paused (no estimate then); the first one shown after the opening.
    waits = [(e, v.admitted_at - t) for v in admitted if v.first_eta for t, e in [v.first_eta]]
    eta_err = [abs(e - w) / w for e, w in waits if w >= ETA_MIN_WAIT_S]
    eta_p = {f"p{p}": percentile(eta_err, p) for p in (50, 90)}

    outcome = dict(await h.pg.fetchrow(OUTCOME, event_id) or {})
    holds = await h.pg.fetch(HOLDS, event_id)
    bound = admission_bound(visitors, list(holds), capacity=tickets, factor=FACTOR, opened=opened)
    room_settings = f"≤ {MAX_ADMIT_PER_S} admitted/s, factor {FACTOR}"
    report.figures.append(Figure("visitors / tickets", f"{num(n)} / {num(tickets)} ({room_settings})"))
    report_storm(report, storm)
    sell_out = f"{sell_out_s:.1f} s" if sell_out_s is not None else "not sold out"
    done = " / ".join(map(num, (len(admitted), *(room.done[k] for k in ("hold", "confirm", "cancel")))))
    bound_text = f"{bound.max_ratio:.3f} over {num(bound.points)} instants {bound.at}"
    eta_text = " / ".join("n/a" if x is None else f"{x:.1%}" for x in eta_p.values())
    goals = [target(bound.max_ratio <= 1.0, "≤ 1.0"), target(tau == 1.0, "1.0 (fifo)")]
    goals.append(target((eta_p["p90"] or 1.0) <= 0.2, "p90 ≤ 20%"))
    rows = [
        ("time from the opening to the last sale", sell_out, ""),
        ("admitted / held / confirmed / abandoned", done, ""),
        ("max (unused admissions + holds) / (left x factor)", bound_text, goals[0]),
        ("fairness: Kendall tau (arrival, admission)", "n/a" if tau is None else f"{tau:.6f}", goals[1]),
        ("position update latency p50 / p99 (n)", _p50_p99(pos_s), ""),
        ("admission → visitor latency p50 / p99 (n)", _p50_p99(adm_s), ""),
        ("last sale → 'sold out' heard p50 / p99 (n)", _p50_p99(sold_s), ""),
        (f"ETA error p50 / p90 (waits ≥ {ETA_MIN_WAIT_S:.0f} s; n = {len(eta_err)})", eta_text, goals[2]),
    ]
    report.figures += [Figure(name, value, "", goal) for name, value, goal in rows]
    report.check("places given are the arrival numbers 1..n", True, arrivals == list(range(1, n + 1)))
    report.check("sold out within the budget", True, sold_out)
    sold = (outcome["booked"], outcome["purchases"], outcome["confirmed_holds"])
    report.check("tickets sold (BOOKED) = purchases = confirmed holds", (tickets,) * 3, sold)
    await check_sold_once(report, h.pg, event_id, who="visitors")
    report.check("holds left active", 0, outcome["active_holds"])
    report.check("admission bound never exceeded (instants over 1.0)", 0, bound.over)
    report.check("fairness: Kendall tau (fifo)", 1.0, tau)
    report.check("admitted visitors are exactly the first arrivals", True, prefix_ok)
    ended = room.done["confirm"] + room.done["cancel"]
    report.check("every admitted visitor got a hold and finished", len(admitted), ended)
    report.check("load-side errors", {}, room.errors)
    report.raw.update(visitors=n, tickets=tickets, sell_out_s=sell_out_s, tau=tau, admitted=len(admitted))
    report.raw.update(position=pos_s, admission=adm_s, sold_out=sold_s, outcome=outcome)
    report.raw["bound"] = {"max": bound.max_ratio, "points": bound.points, "at": bound.at}
    report.raw["eta_error"] = {**eta_p, "n": len(eta_err), "min_wait_s": ETA_MIN_WAIT_S}
    return report


def _p50_p99(s: dict[str, float | int | None]) -> str:
    return f"{ms(s['p50'])} / {ms(s['p99'])} (n = {s['n']})"


async def _pause(h: Harness, event_id: str, *, paused: bool) -> None:
    async with h.admin() as admin:
        r = await admin.patch(f"/api/events/{event_id}/waiting-room", json={"paused": paused})
    if r.status_code != 200:
        raise RuntimeError(f"setting paused={paused} answered {r.status_code}: {r.text[:200]}")


OUTCOME = """SELECT count(*) FILTER (WHERE status = 'confirmed') AS confirmed_holds,
    count(*) FILTER (WHERE status = 'active') AS active_holds,
    (SELECT count(*) FROM purchases WHERE event_id = $1) AS purchases,
    (SELECT count(*) FROM tickets WHERE event_id = $1 AND status = 'BOOKED') AS booked
    FROM holds WHERE event_id = $1"""
HOLDS = "SELECT customer_id, status, created_at, ended_at FROM holds WHERE event_id = $1"
