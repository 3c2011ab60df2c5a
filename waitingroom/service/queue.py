"""A visitor's side of the queue: join (once), look up, leave, and the join's abuse checks.

A place belongs to its owner: a signed-in customer, or an anonymous visitor (a random id in
a visitor token). Both are UUIDs, and `customer_id` below names either. A customer who
signs in while their visitor has a place takes that place over (`owners`), so their other
devices find it too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from uuid import UUID

import msgspec
from redis.asyncio import Redis

from core import limits
from core.addresses import limit_subject
from core.config import get_settings
from core.db import Connection
from core.limits import Limit
from waitingroom import keys
from waitingroom.errors import NotInQueue, ProofOfWorkRequired, RateLimited
from waitingroom.schemas import PowChallenge, QueueJoin, QueueStatus, QueueStatusName
from waitingroom.service import lottery, proof
from waitingroom.service.admission import request_advance
from waitingroom.service.callers import QueueCaller
from waitingroom.service.eta import beyond_stock, eta_range, eta_seconds
from waitingroom.service.store import (
    RoomSettings,
    S,
    derive_state,
    load_room,
    lottery_seed,
    redis_now_ms,
    text,
)
from waitingroom.service.tokens import encode_admission, expires_at


@dataclasses.dataclass
class Guards:
    """The race guard of the join, on in production. Only tests switch it off
    (`without_guard` in tests/concurrency/conftest.py); nothing else sets it."""

    atomic_join: bool = True  # join_queue.lua: arrival number and place taken in one step


GUARDS = Guards()


class Place(msgspec.Struct, frozen=True, kw_only=True):
    """A visitor's standing as the Lua scripts report it."""

    kind: str  # "waiting" | "admitted" | "done" | "none"
    rank: int = 0  # 0-based, among those waiting
    created: bool = False
    served: int = 0  # admissions issued so far for the event
    recorded_state: str = ""  # the state the last tick recorded
    rate: float = 0.0
    prequeue: bool = False
    jti: str = ""
    expires_ms: int = 0
    blocked: bool = False  # open, but every ticket left is held or promised
    done: str = ""  # kind "done": "used" | "expired"
    done_ms: int = 0
    returned: int = 0  # grace returns so far
    reach: int = -1  # how many more visitors the stock not yet promised lets in (-1: unknown)


def parse_place(reply: list[Any]) -> Place:
    kind = text(reply[0])
    if kind == "admitted":
        jti, expires = text(reply[1]).split(":")
        return Place(
            kind=kind,
            served=int(reply[2]),
            recorded_state=text(reply[3]),
            rate=float(reply[4]),
            jti=jti,
            expires_ms=int(expires),
        )
    if kind == "done":
        how, at = text(reply[1]).split(":")
        return Place(
            kind=kind,
            served=int(reply[2]),
            recorded_state=text(reply[3]),
            rate=float(reply[4]),
            done=how,
            done_ms=int(at),
        )
    if kind == "none":
        return Place(kind=kind, served=int(reply[2]), recorded_state=text(reply[3]), rate=float(reply[4]))
    return Place(
        kind=kind,
        rank=int(reply[1]),
        created=bool(int(reply[2])),
        served=int(reply[3]),
        recorded_state=text(reply[4]),
        rate=float(reply[5]),
        prequeue=bool(int(reply[6])),
        blocked=len(reply) > 7 and text(reply[7]) == "1",
        returned=int(reply[8]) if len(reply) > 8 else 0,
        reach=int(reply[9]) if len(reply) > 9 else -1,
    )


def build_status(
    settings: RoomSettings, place: Place, *, customer_id: UUID, now_ms: int, seed: str | None
) -> QueueStatus:
    state = derive_state(settings, now_ms=now_ms, recorded=place.recorded_state)
    common: dict[str, Any] = {
        "state": state,
        "sales_open_at": settings.sales_open_at,
        "prequeue": settings.prequeue,
        "lottery_commitment": lottery.commitment(seed) if seed else None,
        "lottery_seed": seed if seed and settings.is_open(now_ms) else None,
    }
    if place.kind == "admitted":
        token = encode_admission(
            customer_id=customer_id, event_id=settings.event_id, jti=place.jti, expires_ms=place.expires_ms
        )
        return QueueStatus(
            status="admitted",
            position=0,
            eta_s=0,
            admission_token=token,
            admission_expires_at=expires_at(place.expires_ms),
            **common,
        )
    if place.kind == "done":
        how: QueueStatusName = "used" if place.done == "used" else "expired"
        sold_out = state in ("sold_out", "closed")
        return QueueStatus(
            status="sold_out" if sold_out and how == "expired" else how,
            position=None,
            eta_s=None,
            done_at=expires_at(place.done_ms),
            rate=place.rate,
            **common,
        )
    drawing = place.prequeue and settings.prequeue == "lottery" and state == "scheduled"
    position = None if drawing else place.rank + 1
    blocked = place.blocked and state == "open"
    beyond = not blocked and beyond_stock(position=position, reach=place.reach, state=state)
    eta = None
    if not blocked and not beyond:
        eta = eta_seconds(
            position=position,
            rate=place.rate,
            state=state,
            now_ms=now_ms,
            open_at_ms=settings.open_at_ms,
            max_admit_per_s=settings.max_admit_per_s,
        )
    status: QueueStatusName = "sold_out" if state in ("sold_out", "closed") else "waiting"
    return QueueStatus(
        status=status,
        position=position,
        eta_s=eta,
        eta_range_s=eta_range(eta),
        rate=place.rate,
        blocked=blocked,
        beyond_stock=beyond,
        **common,
    )


def visitor_keys(event_id: UUID) -> list[str]:
    return [
        keys.queue(event_id),
        keys.admitted(event_id),
        keys.admission_ids(event_id),
        keys.meta(event_id),
        keys.done(event_id),
    ]


async def read_place(redis: Redis, *, event_id: UUID, customer_id: UUID) -> Place:
    return parse_place(await S.read_visitor(redis, visitor_keys(event_id), [str(customer_id)]))


async def _check_rate(redis: Redis, *, event_id: UUID, customer_id: UUID, client_ip: str) -> None:
    """Join attempts per window (JOIN_* settings). Generous per address: a campus or a
    mobile carrier puts many buyers behind one; the per-customer limit does the real work."""
    settings = get_settings()
    window = settings.join_window_s
    wait_ms = await limits.hit_limits(
        redis,
        [
            Limit(
                keys.join_rate_ip(event_id, limit_subject(client_ip)), settings.join_limit_per_address, window
            ),
            Limit(keys.join_rate_customer(event_id, customer_id), settings.join_limit_per_customer, window),
        ],
    )
    if wait_ms > 0:
        raise RateLimited(wait_ms)


async def pow_difficulty(redis: Redis, *, event_id: UUID) -> int:
    value = await redis.get(keys.pow_difficulty(event_id))
    return int(value) if value else 0


async def _check_proof(
    redis: Redis, *, event_id: UUID, customer_id: UUID, body: QueueJoin | None, now_ms: int
) -> None:
    difficulty = await pow_difficulty(redis, event_id=event_id)
    if difficulty <= 0:
        return
    if body is None or body.pow_challenge is None or body.pow_nonce is None:
        raise ProofOfWorkRequired()
    try:
        challenge_id, expires = proof.verify(
            get_settings().jwt_secret,
            event_id=event_id,
            customer_id=customer_id,
            challenge=body.pow_challenge,
            nonce=body.pow_nonce,
            now_s=now_ms // 1000,
            difficulty=difficulty,
        )
    except proof.InvalidProof as exc:
        raise ProofOfWorkRequired(str(exc), field="pow_nonce") from None
    if not await redis.set(keys.pow_used(event_id, challenge_id), b"1", nx=True, exat=expires):
        raise ProofOfWorkRequired("This challenge was already used; fetch a new one.", field="pow_challenge")


async def join_queue(
    conn: Connection,
    redis: Redis,
    *,
    event_id: UUID,
    customer_id: UUID,
    client_ip: str,
    body: QueueJoin | None = None,
    again: bool = True,
) -> QueueStatus:
    """Give the customer one place in the event's queue (or return the place they have).

    With `again` False, an owner whose last admission was used or expired is told so and
    gets no new place (the web app's reloads and other tabs never re-join by accident).
    """
    settings = await load_room(conn, event_id=event_id)
    await _check_rate(redis, event_id=event_id, customer_id=customer_id, client_ip=client_ip)
    now_ms = await redis_now_ms(redis)
    await _check_proof(redis, event_id=event_id, customer_id=customer_id, body=body, now_ms=now_ms)
    seed = await lottery_seed(redis, settings, now_ms=now_ms)
    draw = str(lottery.draw_score(seed, customer_id)) if seed and not settings.is_open(now_ms) else ""
    script_keys = [
        keys.queue(event_id),
        keys.sequence(event_id),
        keys.admitted(event_id),
        keys.admission_ids(event_id),
        keys.meta(event_id),
        keys.draws(event_id),
        keys.done(event_id),
    ]
    args: list[str | int] = [str(customer_id), settings.open_at_ms, draw, int(again)]
    if GUARDS.atomic_join:
        reply = await S.join_queue(redis, script_keys, args)
    else:  # the same script in two calls: an arrival number, then the place
        reply = await S.join_queue(redis, script_keys, [*args, "number"])
        if text(reply[0]) == "numbered":
            reply = await S.join_queue(redis, script_keys, [*args, "place", int(reply[1])])
    place = parse_place(reply)
    if place.created:
        # Add first, then let the tick find it; see advance_queue for the matching removal.
        await redis.sadd(keys.live_events(), str(event_id))  # type: ignore[misc]
        if settings.is_open(now_ms) and not settings.paused and place.rank < settings.max_admit_per_s:
            await request_advance(redis, event_id=event_id)
    return build_status(settings, place, customer_id=customer_id, now_ms=now_ms, seed=seed)


async def grace_offer(redis: Redis, *, event_id: UUID, owner: UUID, now_ms: int) -> dt.datetime | None:
    """The deadline of the owner's open grace offer, if one is open now."""
    offer = await redis.hget(keys.grace(event_id), str(owner))  # type: ignore[misc]
    if offer is None:
        return None
    how, _, at = text(offer).partition(":")
    return expires_at(int(at)) if how == "offered" and int(at) >= now_ms else None


async def get_queue_place(
    conn: Connection, redis: Redis, *, event_id: UUID, customer_id: UUID
) -> QueueStatus:
    """The customer's place, admission or sold-out news; 404 when they have no place. After
    a used admission whose hold expired, `grace_until` says until when they may come back
    at the front of the line (service/grace.py)."""
    settings = await load_room(conn, event_id=event_id)
    now_ms = await redis_now_ms(redis)
    seed = await lottery_seed(redis, settings, now_ms=now_ms)
    place = await read_place(redis, event_id=event_id, customer_id=customer_id)
    if place.kind == "none":
        raise NotInQueue()
    status = build_status(settings, place, customer_id=customer_id, now_ms=now_ms, seed=seed)
    if place.kind == "done" and status.status == "used":
        until = await grace_offer(redis, event_id=event_id, owner=customer_id, now_ms=now_ms)
        if until is not None:
            status = msgspec.structs.replace(status, grace_until=until)
    return status


async def leave_queue(conn: Connection, redis: Redis, *, event_id: UUID, customer_id: UUID) -> None:
    """Give up the place (or the unused admission); the visitors behind move up."""
    settings = await load_room(conn, event_id=event_id)
    prequeue_open = not settings.is_open(await redis_now_ms(redis))
    removed = await S.leave_queue(
        redis,
        [
            keys.queue(event_id),
            keys.admitted(event_id),
            keys.admission_ids(event_id),
            keys.draws(event_id),
            keys.done(event_id),
        ],
        [str(customer_id), int(prequeue_open)],
    )
    await redis.hdel(keys.notify(event_id), str(customer_id))  # type: ignore[misc]
    if int(removed) == 0:
        raise NotInQueue()


async def issue_pow_challenge(
    conn: Connection, redis: Redis, *, event_id: UUID, customer_id: UUID
) -> PowChallenge:
    """A challenge to solve before joining (difficulty 0 when the event asks for none)."""
    await load_room(conn, event_id=event_id)
    difficulty = await pow_difficulty(redis, event_id=event_id)
    now_ms = await redis_now_ms(redis)
    challenge, expires = proof.issue(
        get_settings().jwt_secret,
        event_id=event_id,
        customer_id=customer_id,
        difficulty=difficulty,
        now_s=now_ms // 1000,
    )
    return PowChallenge(
        challenge=challenge,
        difficulty=difficulty,
        algorithm=proof.ALGORITHM,
        expires_at=expires_at(expires * 1000),
    )


async def queue_owner(
    redis: Redis, *, event_id: UUID, customer_id: UUID | None, visitor_id: UUID | None
) -> UUID:
    """Whose place a caller stands for: the visitor's, the customer's own, or the visitor
    place the customer took over when signing in (so their other devices find it too).

    A customer calling with their visitor's token as well (the web app sends it as
    `Visitor-Token`) takes the visitor's place over when they have none of their own.
    """
    if customer_id is None:
        if visitor_id is None:
            raise ValueError("a queue caller is a customer or a visitor")
        return visitor_id
    owners = keys.owners(event_id)
    linked = await redis.hget(owners, str(customer_id))  # type: ignore[misc]
    if linked:
        return UUID(text(linked))
    if visitor_id is None:
        return customer_id
    if (await read_place(redis, event_id=event_id, customer_id=customer_id)).kind != "none":
        return customer_id
    if (await read_place(redis, event_id=event_id, customer_id=visitor_id)).kind == "none":
        return customer_id
    await redis.hsetnx(owners, str(customer_id), str(visitor_id))  # type: ignore[misc]
    return UUID(text(await redis.hget(owners, str(customer_id))))  # type: ignore[misc]


async def join_queue_as(
    conn: Connection,
    redis: Redis,
    *,
    event_id: UUID,
    caller: QueueCaller,
    client_ip: str,
    body: QueueJoin | None = None,
) -> QueueStatus:
    """`join_queue` for a caller of the API: the place of the customer or visitor they are,
    a fresh visitor token for a newcomer, and no new place after a used or expired
    admission unless the body says `again`."""
    owner = await queue_owner(
        redis, event_id=event_id, customer_id=caller.customer_id, visitor_id=caller.visitor_id
    )
    status = await join_queue(
        conn,
        redis,
        event_id=event_id,
        customer_id=owner,
        client_ip=client_ip,
        body=body,
        again=body is not None and body.again,
    )
    token = caller.visitor_token()
    return msgspec.structs.replace(status, visitor_token=token) if token else status


async def get_queue_place_as(
    conn: Connection, redis: Redis, *, event_id: UUID, caller: QueueCaller
) -> QueueStatus:
    owner = await queue_owner(
        redis, event_id=event_id, customer_id=caller.customer_id, visitor_id=caller.visitor_id
    )
    return await get_queue_place(conn, redis, event_id=event_id, customer_id=owner)


async def leave_queue_as(conn: Connection, redis: Redis, *, event_id: UUID, caller: QueueCaller) -> None:
    owner = await queue_owner(
        redis, event_id=event_id, customer_id=caller.customer_id, visitor_id=caller.visitor_id
    )
    await leave_queue(conn, redis, event_id=event_id, customer_id=owner)


async def issue_pow_challenge_as(
    conn: Connection, redis: Redis, *, event_id: UUID, caller: QueueCaller
) -> PowChallenge:
    """A challenge bound to the caller's place owner; a newcomer gets their visitor token too."""
    owner = await queue_owner(
        redis, event_id=event_id, customer_id=caller.customer_id, visitor_id=caller.visitor_id
    )
    challenge = await issue_pow_challenge(conn, redis, event_id=event_id, customer_id=owner)
    token = caller.visitor_token()
    return msgspec.structs.replace(challenge, visitor_token=token) if token else challenge
