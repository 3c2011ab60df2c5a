"""Admission: the per-event tick that lets the next visitors in, and the single use of
an admission by the hold it pays for.

Budget (DESIGN.md invariant 5). With

- `left` = tickets that may be sold now and are not yet sold (available + held), `held` =
  those of them in active holds (IN_PROGRESS rows), both read from PostgreSQL; tickets of a
  ticket type outside its own sale window and tickets kept for the waitlist's offers are
  not counted (`Stock.selling_now`, docs/ticket-types.md);
- `limit` = floor(left x admission_factor), but at least 1 while a ticket is left (with a
  factor below 1, floor(1 x 0.6) = 0 would strand the last tickets);
- `outstanding` = admissions issued and not yet used;
- `in_transit` = admissions used within the last lock timeout + 1 s (the hold each pays
  for may not be committed yet when the tick reads PostgreSQL);
- `m` = the event's max tickets per customer (one admission may become a hold of up to m
  tickets; 1 by default),

a tick admits, in queue order and never fewer than 0,

    min(floor((limit - held - m x (outstanding + in_transit)) / m),
        max_admit_per_s - admitted in the last 1000 ms,
        waiting)

so that m x (outstanding + in_transit) + held <= limit after every tick. One Lua script
takes the Redis counts, pops the visitors and records the admissions, so two ticks never
spend the same budget twice.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from arq.connections import ArqRedis
from redis.asyncio import Redis

from core.auth import visitor_from_token
from core.config import get_settings
from core.db import Connection
from core.errors import AppError
from core.realtime import Publisher
from reservations.errors import AdmissionRequired
from reservations.inventory.stock import read_stock
from waitingroom import keys
from waitingroom.service.store import S, find_settings, redis_now_ms, text
from waitingroom.service.tokens import decode_admission, encode_admission, expires_at

log = logging.getLogger("crowdpass.waitingroom")

TRANSIT_MARGIN_MS = 1000  # beyond the hold transaction's lock timeout
RATE_WINDOW_MS = 30_000
BROADCAST_EVERY_MS = 1000  # at most one broadcast tick per event per second (state changes: at once)


@dataclasses.dataclass
class Guards:
    """The race guard of the tick, on in production. Only tests switch it off
    (`without_guard` in tests/concurrency/conftest.py); nothing else sets it."""

    held_in_budget: bool = True  # advance_queue: the room is the limit minus held tickets


GUARDS = Guards()


class Admission(msgspec.Struct, frozen=True):
    customer_id: str
    jti: str
    expires_ms: int


class AdvanceResult(msgspec.Struct, frozen=True, kw_only=True):
    state: str
    previous_state: str = ""
    admitted: list[Admission] = msgspec.field(default_factory=list)
    served: int = 0
    waiting: int = 0
    outstanding: int = 0
    in_transit: int = 0
    expired: int = 0
    rate: float = 0.0
    limit: int = 0  # floor(left x factor)
    blocked: bool = False  # as advance_queue.lua records it: no room to admit anyone now
    held: int = 0
    sold: int = 0
    available: int = 0
    now_ms: int = 0


class Tick(msgspec.Struct, frozen=True, tag_field="type", tag="tick"):
    """The per-event broadcast: every socket works out its own position from it."""

    state: str
    served: int
    waiting: int
    rate: float
    blocked: bool = False  # open, but every ticket left is held or promised: nobody moves
    returned: int = 0  # grace returns so far: each moved everyone waiting back one
    reach: int = -1  # more visitors the stock not yet promised lets in (open rooms; else -1)


class Admitted(msgspec.Struct, frozen=True, tag_field="type", tag="admitted"):
    """What the visitor's socket is sent."""

    admission_token: str
    admission_expires_at: str


class AdmittedVisitor(msgspec.Struct, frozen=True):
    customer_id: str
    admission_token: str
    admission_expires_at: str


class AdmissionBatch(msgspec.Struct, frozen=True):
    """One tick's admissions, on the event's admissions channel (for API processes only)."""

    admitted: list[AdmittedVisitor]


def transit_window_ms() -> int:
    """How long a used admission still counts: longer than any hold transaction can wait
    for a lock (LOCK_TIMEOUT_MS) before it commits or fails."""
    return get_settings().lock_timeout_ms + TRANSIT_MARGIN_MS


def admission_limit(*, left: int, factor: float) -> int:
    """floor(left x factor), in decimal so that 0.29 x 100 is 29, not 28; and at least 1
    while anything is left, or a factor below 1 would never offer the last tickets."""
    return max(math.floor(Decimal(repr(factor)) * left), min(left, 1))


def room_state(*, closed: bool, scheduled: bool, paused: bool, available: int, held: int) -> str:
    if closed:
        return "closed"
    if scheduled:
        return "scheduled"
    if available == 0 and held == 0:
        return "sold_out"
    if paused:
        return "paused"
    return "open"


async def request_advance(redis: Redis, *, event_id: UUID) -> None:
    """Enqueue an advance of the event now (at most one queued or running per event)."""
    if isinstance(redis, ArqRedis):
        await redis.enqueue_job(keys.ADVANCE_JOB, str(event_id), _job_id=keys.advance_job_id(event_id))


async def tick_queues(redis: ArqRedis) -> int:
    """Every second: an advance for each event with a live queue. Returns how many."""
    members = await redis.smembers(keys.live_events())  # type: ignore[misc]
    for member in members:
        await redis.enqueue_job(keys.ADVANCE_JOB, text(member), _job_id=keys.advance_job_id(text(member)))
    return len(members)


def _parse(reply: list[Any]) -> tuple[list[Admission], dict[str, Any]]:
    admitted = [
        Admission(customer_id=text(reply[i]), jti=text(reply[i + 1]), expires_ms=int(reply[i + 2]))
        for i in range(9, len(reply), 3)
    ]
    counts = {
        "served": int(reply[1]),
        "waiting": int(reply[2]),
        "outstanding": int(reply[3]),
        "in_transit": int(reply[4]),
        "expired": int(reply[5]),
        "rate": float(reply[6]),
        "previous_state": text(reply[7]),
        "now_ms": int(reply[8]),
    }
    return admitted, counts


async def advance_queue(
    conn: Connection,
    redis: Redis,
    *,
    event_id: UUID,
    publisher: Publisher,
    admission_ttl_s: float | None = None,
    transit_ms: int | None = None,
) -> AdvanceResult:
    """One tick: expire unused admissions, admit the next visitors, tell everyone."""
    settings = await find_settings(conn, event_id=event_id)
    if settings is None or not settings.waiting_room:
        await redis.srem(keys.live_events(), str(event_id))  # type: ignore[misc]
        return AdvanceResult(state="closed")
    stock = await read_stock(conn, event_id=event_id)
    now_ms = await redis_now_ms(redis)
    left, held = stock.selling_now()
    limit = admission_limit(left=left, factor=settings.admission_factor)
    state = room_state(
        closed=settings.closed,
        scheduled=not settings.is_open(now_ms),
        paused=settings.paused,
        available=stock.available,
        held=stock.held,
    )
    app_settings = get_settings()
    ttl_ms = int(1000 * (admission_ttl_s if admission_ttl_s is not None else app_settings.admission_ttl_s))
    if transit_ms is None:
        transit_ms = transit_window_ms()
    reply = await S.advance_queue(
        redis,
        [
            keys.queue(event_id),
            keys.admitted(event_id),
            keys.admission_ids(event_id),
            keys.in_transit(event_id),
            keys.admission_log(event_id),
            keys.meta(event_id),
            keys.done(event_id),
        ],
        [
            limit - held if GUARDS.held_in_budget else limit,
            settings.max_admit_per_s,
            int(state == "open"),
            ttl_ms,
            state,
            transit_ms,
            RATE_WINDOW_MS,
            settings.max_per_customer,
        ],
    )
    admitted, counts = _parse(reply)
    room = (limit - held if GUARDS.held_in_budget else limit) - settings.max_per_customer * (
        counts["outstanding"] + counts["in_transit"]
    )
    result = AdvanceResult(
        blocked=state == "open" and room < settings.max_per_customer,
        state=state,
        admitted=admitted,
        limit=limit,
        held=stock.held,
        sold=stock.sold,
        available=stock.available,
        **counts,
    )

    if admitted:
        batch = AdmissionBatch(
            admitted=[
                AdmittedVisitor(
                    customer_id=a.customer_id,
                    admission_token=encode_admission(
                        customer_id=a.customer_id, event_id=event_id, jti=a.jti, expires_ms=a.expires_ms
                    ),
                    admission_expires_at=expires_at(a.expires_ms).isoformat(),
                )
                for a in admitted
            ]
        )
        await publisher.publish(keys.admissions_channel(event_id), batch)
        await _tell_by_email(redis, event_id=event_id, admitted=admitted)
    # Every socket of the event handles every broadcast tick, so ticks are broadcast at most
    # once per BROADCAST_EVERY_MS however often the queue advances (each hold, cancel and
    # expiry advances it too); a change of state goes out at once.
    gate_open = await redis.set(keys.broadcast_gate(event_id), b"1", nx=True, px=BROADCAST_EVERY_MS)
    if gate_open or state != result.previous_state:
        returned = await redis.hget(keys.meta(event_id), "returned")  # type: ignore[misc]
        await publisher.publish(
            keys.event_channel(event_id),
            Tick(
                state=state,
                served=result.served,
                waiting=result.waiting,
                rate=result.rate,
                blocked=result.blocked,
                returned=int(returned or 0),
                reach=max(0, room // settings.max_per_customer) if state == "open" else -1,
            ),
        )
    if state != result.previous_state:
        log.info("waiting room %s: %s -> %s", event_id, result.previous_state or "new", state)

    # Keep ticking while someone waits for something that can still happen. Remove first,
    # then look again: a join adds its place before it adds the event, so it is never lost.
    if result.waiting == 0 or state in ("sold_out", "closed"):
        await redis.srem(keys.live_events(), str(event_id))  # type: ignore[misc]
        if state not in ("sold_out", "closed") and await redis.zcard(keys.queue(event_id)) > 0:
            await redis.sadd(keys.live_events(), str(event_id))  # type: ignore[misc]
    else:
        await redis.sadd(keys.live_events(), str(event_id))  # type: ignore[misc]
    return result


async def _tell_by_email(redis: Redis, *, event_id: UUID, admitted: list[Admission]) -> None:
    """Queue the "your turn" emails of this tick's admissions; a failure is logged (the
    admissions stand, and the pages tell the visitors anyway)."""
    from waitingroom.service.notify import notify_admitted  # notify -> queue -> admission

    try:
        await notify_admitted(redis, event_id=event_id, owners=[a.customer_id for a in admitted])
    except Exception:  # the tick's work is done; an email is a courtesy
        log.exception("could not queue the turn emails of event %s", event_id)


async def advance_until_settled(
    conn: Connection, redis: Redis, *, event_id: UUID, publisher: Publisher, rounds: int = 3
) -> list[AdvanceResult]:
    """Advance, then look at the stock again: a change committed while this tick ran had
    its own advance refused (one per event at a time), so tick again, at most `rounds` times."""
    results = [await advance_queue(conn, redis, event_id=event_id, publisher=publisher)]
    while len(results) < rounds and results[-1].state != "closed":
        stock = await read_stock(conn, event_id=event_id)
        last = results[-1]
        if (stock.sold, stock.held, stock.available) == (last.sold, last.held, last.available):
            break
        results.append(await advance_queue(conn, redis, event_id=event_id, publisher=publisher))
    return results


async def require_admission(
    conn: Connection,
    redis: Redis,
    *,
    event_id: UUID,
    customer_id: UUID,
    token: str | None,
    visitor_token: str | None = None,
) -> None:
    """Let a hold through: at once for events without a waiting room; otherwise use the
    admission token once. The token names the place's owner: this customer, the anonymous
    visitor proved by `visitor_token` (the same browser: the visitor signed in at their
    turn), or the visitor whose place this customer took over. 403 `admission_required`
    for a missing, expired, forged, other event's, other visitor's or already used token."""
    settings = await find_settings(conn, event_id=event_id)
    if settings is None or not settings.waiting_room:
        return
    if not token:
        raise AdmissionRequired(
            "This event has a waiting room: join the queue, then send the admission token"
            " in the Admission-Token header."
        )
    claims = decode_admission(token, event_id=event_id)
    owner = claims.customer_id
    if owner != customer_id and not await _owns_place(
        redis, event_id=event_id, customer_id=customer_id, owner=owner, visitor_token=visitor_token
    ):
        raise AdmissionRequired("This admission token belongs to another visitor.")
    used = int(
        await S.consume_admission(
            redis,
            [
                keys.admitted(event_id),
                keys.admission_ids(event_id),
                keys.in_transit(event_id),
                keys.done(event_id),
            ],
            [str(owner), claims.jti],
        )
    )
    if used == -1:
        raise AdmissionRequired("This admission has expired; join the queue again.")
    if used != 1:
        raise AdmissionRequired("This admission token was already used or replaced.")


async def _owns_place(
    redis: Redis, *, event_id: UUID, customer_id: UUID, owner: UUID, visitor_token: str | None
) -> bool:
    """Whether this customer stands for the visitor `owner`: they prove it with the visitor's
    token (then the place is theirs from now on), or took the place over earlier."""
    if visitor_token:
        try:
            visitor = visitor_from_token(visitor_token)
        except AppError:
            return False
        if visitor != owner:
            return False
        await redis.hsetnx(keys.owners(event_id), str(customer_id), str(owner))  # type: ignore[misc]
        return True
    linked = await redis.hget(keys.owners(event_id), str(customer_id))  # type: ignore[misc]
    return linked is not None and text(linked) == str(owner)
