""" "Your turn" by email (docs/waiting-room.md, "Your turn by email").

A visitor may leave an address while waiting (`set_turn_email`, kept in the event's
`notify` hash). The tick calls `notify_admitted` after its Lua step has recorded the
admissions: one HMGET, then one `waitingroom.notify_turn` job per admitted visitor with an
address; that job (`queue_turn_mail`) writes the email and queues it as every email is
(`mail.send`, SMTP with retries). The admission itself never waits for any of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from arq.connections import ArqRedis
from redis.asyncio import Redis

from core.config import get_settings
from core.db import Connection
from core.mail import Mail
from reservations.customers.schemas import clean_email
from reservations.events import service as events
from reservations.mail.service import queue_mail
from waitingroom import keys
from waitingroom.errors import NotInQueue
from waitingroom.schemas import TurnEmail
from waitingroom.service.callers import QueueCaller
from waitingroom.service.queue import queue_owner, read_place
from waitingroom.service.store import load_room, text


async def set_turn_email(
    conn: Connection, redis: Redis, *, event_id: UUID, owner: UUID, email: str | None
) -> TurnEmail:
    """Keep (or, with None, forget) the address to tell at the owner's turn. 404
    `not_in_queue` unless they are waiting; 400 naming `email` for a malformed address."""
    await load_room(conn, event_id=event_id)
    address = None if email is None else clean_email(email)
    if (await read_place(redis, event_id=event_id, customer_id=owner)).kind != "waiting":
        raise NotInQueue("Only a visitor waiting in line can ask to be told by email.")
    if address is None:
        await redis.hdel(keys.notify(event_id), str(owner))  # type: ignore[misc]
    else:
        await redis.hset(keys.notify(event_id), str(owner), address)  # type: ignore[misc]
    return TurnEmail(email=address)


async def set_turn_email_as(
    conn: Connection, redis: Redis, *, event_id: UUID, caller: QueueCaller, email: str | None
) -> TurnEmail:
    owner = await queue_owner(
        redis, event_id=event_id, customer_id=caller.customer_id, visitor_id=caller.visitor_id
    )
    return await set_turn_email(conn, redis, event_id=event_id, owner=owner, email=email)


async def notify_admitted(redis: Redis, *, event_id: UUID, owners: Sequence[str]) -> int:
    """After a tick admitted `owners`: a `waitingroom.notify_turn` job for each who left an
    address (each told once: the address is forgotten). Returns how many were queued."""
    if not owners or not isinstance(redis, ArqRedis):
        return 0
    addresses = await redis.hmget(keys.notify(event_id), list(owners))  # type: ignore[misc]
    told = [(owner, text(a)) for owner, a in zip(owners, addresses, strict=True) if a]
    if not told:
        return 0
    await redis.hdel(keys.notify(event_id), *(owner for owner, _ in told))  # type: ignore[misc]
    for _, address in told:
        await redis.enqueue_job(keys.NOTIFY_TURN_JOB, str(event_id), address)
    return len(told)


def turn_mail(*, event_name: str, event_id: UUID, to: str, admission_ttl_s: int) -> Mail:
    link = f"{get_settings().public_url}/events/{event_id}/queue"
    minutes = max(1, admission_ttl_s // 60)
    text_body = (
        f"Hello,\n\nIt is your turn to buy tickets for {event_name}.\n\n"
        f"Open {link} in the browser you queued with: your place is waiting for you,"
        f" for about {minutes} minute(s). After that it goes to the next in line.\n"
    )
    return Mail(to=to, subject=f"Your turn: tickets for {event_name}", text=text_body, kind="your_turn")


async def queue_turn_mail(conn: Connection, redis: ArqRedis, *, event_id: UUID, to: str) -> None:
    """The job's work: write the "your turn" email and queue it for sending."""
    event = await events.get_event(conn, event_id=event_id)
    mail = turn_mail(
        event_name=event.name, event_id=event_id, to=to, admission_ttl_s=get_settings().admission_ttl_s
    )
    await queue_mail(redis, mail)
