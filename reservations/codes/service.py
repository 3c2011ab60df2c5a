"""Codes: presale (access) and discount codes of an event (docs/codes.md, ADR 0019).

A use of a code is taken in the transaction of the hold that carries it, after the hold's
tickets are claimed (lock order everywhere: hold, allowance, tickets, code use, code), by
one guarded UPDATE (`Q.take_use`), so `max_uses` holds under any concurrency and a refused
code rolls the whole hold back. The use is kept when the hold is bought, given back when
it expires or is cancelled (`release_uses`, from the holds service), and given back when
every ticket bought with it is refunded (`release_refunded_use`, from the refunds service).

Pricing, per ticket of the code's type (every type when it names none): half price first,
then the discount — `percent_off` takes that percentage off, rounded down to the cent in
the buyer's disfavour by at most one cent; `amount_off_cents` takes that amount off; a
ticket never costs less than 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from arq.connections import ArqRedis

from core import limits
from core.config import get_settings
from core.db import Connection, queries_beside, without_guard
from core.errors import BadRequest, Busy
from reservations.codes.schemas import CodeCheck, CodeCreate, CodePatch, CodeView, normal_code
from reservations.errors import (
    CodeExhausted,
    CodeNotApplicable,
    CodeNotFound,
    CodeNotValidNow,
    CodeTaken,
    CodeUnknown,
    EventNotFound,
)
from reservations.holds.schemas import HeldTicket, Hold

Q = queries_beside(__file__)


@dataclasses.dataclass
class Guards:
    """The usage-limit guard, on in production; only the control test switches it off
    (`without_guard` in tests/concurrency/conftest.py): then a use is counted as a
    read-then-write would, from the `uses` read before the hold (`uses = <read> + 1`, no
    `uses < max_uses` in the UPDATE)."""

    code_use_guarded: bool = True


GUARDS = Guards()
_GUARD = "AND (max_uses IS NULL OR uses < max_uses)"
_UNGUARDED = without_guard(without_guard(Q.take_use, _GUARD), "SET uses = uses + 1", "SET uses = $5::int + 1")


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a code does to a ticket's price."""

    code: str
    kind: str
    percent_off: int | None
    amount_off_cents: int | None
    ticket_type: str | None

    def applies_to(self, ticket_type: str | None) -> bool:
        return self.ticket_type is None or self.ticket_type == ticket_type

    def discount(self, price_cents: int, ticket_type: str | None) -> int:
        """Cents off one ticket whose price (after half price) is `price_cents`."""
        if self.kind != "discount" or not self.applies_to(ticket_type):
            return 0
        if self.percent_off is not None:
            return price_cents * self.percent_off // 100
        return min(price_cents, self.amount_off_cents or 0)


def _rule(row: Any) -> Rule:
    return Rule(
        code=row["code"],
        kind=row["kind"],
        percent_off=row["percent_off"],
        amount_off_cents=row["amount_off_cents"],
        ticket_type=row["ticket_type"],
    )


def discounted(tickets: Sequence[HeldTicket], code: Rule | Pending) -> tuple[list[HeldTicket], int]:
    """The tickets at their prices with the code, and the total discount. A ticket's type is
    its section's name (NULL for an event's single general-admission type)."""
    rule = code.rule if isinstance(code, Pending) else code
    out, total = [], 0
    for t in tickets:
        off = rule.discount(t.price_cents, t.section)
        total += off
        out.append(msgspec.structs.replace(t, price_cents=t.price_cents - off) if off else t)
    return out, total


# ---------------------------------------------------------------------------- organizer


def _view(row: Any) -> CodeView:
    return CodeView(
        id=row["id"],
        event_id=row["event_id"],
        code=row["code"],
        kind=row["kind"],
        percent_off=row["percent_off"],
        amount_off_cents=row["amount_off_cents"],
        ticket_type=row["ticket_type"],
        max_uses=row["max_uses"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        active=row["active"],
        created_at=row["created_at"],
        uses=row["uses"],
        confirmed=row["confirmed"],
        in_flight=row["held"],
        revenue_cents=row["revenue_cents"],
        discount_cents=row["discount_cents"],
    )


async def create_code(conn: Connection, *, event_id: UUID, data: CodeCreate) -> CodeView:
    """Raises EventNotFound, CodeTaken (the event has this code, in any case)."""
    code = normal_code(data.code)
    if not await conn.fetchval(Q.event_exists, event_id):
        raise EventNotFound()
    try:
        created = await conn.fetchval(
            Q.insert_code,
            event_id,
            code,
            data.kind,
            data.percent_off,
            data.amount_off_cents,
            data.ticket_type,
            data.max_uses,
            data.valid_from,
            data.valid_until,
        )
    except asyncpg.ForeignKeyViolationError:  # the event was deleted meanwhile
        raise EventNotFound() from None
    if created is None:
        raise CodeTaken(field="code")
    return await get_code(conn, event_id=event_id, code=code)


async def list_codes(conn: Connection, *, event_id: UUID) -> list[CodeView]:
    rows = await conn.fetch(Q.list_codes, event_id, None)
    if not rows and not await conn.fetchval(Q.event_exists, event_id):
        raise EventNotFound()
    return [_view(r) for r in rows]


async def get_code(conn: Connection, *, event_id: UUID, code: str) -> CodeView:
    rows = await conn.fetch(Q.list_codes, event_id, normal_code(code))
    if not rows:
        raise CodeNotFound(field="code")
    return _view(rows[0])


async def update_code(conn: Connection, *, event_id: UUID, code: str, patch: CodePatch) -> CodeView:
    """Switch a code off or on, change its limit or window. Raises CodeNotFound, BadRequest
    (a max_uses below the uses already taken, an empty window)."""
    text = normal_code(code)
    unset = msgspec.UNSET
    async with conn.transaction():
        try:
            updated = await conn.fetchval(
                Q.update_code,
                event_id,
                text,
                None if patch.active is unset else patch.active,
                patch.max_uses is not unset,
                None if patch.max_uses is unset else patch.max_uses,
                patch.valid_from is not unset,
                None if patch.valid_from is unset else patch.valid_from,
                patch.valid_until is not unset,
                None if patch.valid_until is unset else patch.valid_until,
            )
        except asyncpg.CheckViolationError as exc:
            if exc.constraint_name == "codes_uses_within_max":
                raise BadRequest("max_uses is below the uses already taken.", field="max_uses") from None
            raise BadRequest("valid_until must come after valid_from.", field="valid_until") from None
        if updated is None:
            raise CodeNotFound(field="code")
    return await get_code(conn, event_id=event_id, code=text)


# ---------------------------------------------------------------------------- buyer


async def _usable(conn: Connection, *, event_id: UUID, code: str) -> Any:
    """The code's row when a buyer may use it now, else the refusal (field `code`)."""
    row = await conn.fetchrow(Q.find_code, event_id, normal_code(code))
    if row is None or not row["active"]:
        raise CodeUnknown(field="code")
    if not row["started"]:
        raise CodeNotValidNow(f"This code is valid from {row['valid_from'].isoformat()}.", field="code")
    if not row["not_ended"]:
        raise CodeNotValidNow(f"This code was valid until {row['valid_until'].isoformat()}.", field="code")
    if row["max_uses"] is not None and row["uses"] >= row["max_uses"]:
        raise CodeExhausted(field="code")
    return row


async def check_code(conn: Connection, *, event_id: UUID, code: str) -> CodeCheck:
    """What the web app shows before a hold. Raises CodeUnknown, CodeNotValidNow, CodeExhausted."""
    row = await _usable(conn, event_id=event_id, code=code)
    return CodeCheck(
        code=row["code"],
        kind=row["kind"],
        percent_off=row["percent_off"],
        amount_off_cents=row["amount_off_cents"],
        ticket_type=row["ticket_type"],
        presale=row["kind"] == "access" and bool(row["before_sale"]),
    )


@dataclasses.dataclass(frozen=True)
class Pending:
    """A buyer's code, checked before the hold statement; its use is taken after it."""

    id: UUID
    rule: Rule
    presale: bool  # an access code: the hold may come before the sale opens
    before_sale: bool  # the event's sale has not opened (as read)
    uses: int  # as read before the hold (only the unguarded control counts from it)


async def limit_tries(redis: ArqRedis, *, customer_id: UUID, code: str | None) -> None:
    """Count a hold naming a code against CODE_LIMIT_PER_CUSTOMER (429 `rate_limited` over
    it): a customer cannot guess codes by holding with one after another."""
    if code is None:
        return
    settings = get_settings()
    limit = limits.Limit(
        limits.key("code-customer", str(customer_id)),
        settings.code_limit_per_customer,
        settings.code_check_window_s,
    )
    await limits.check_limits(redis, [limit], detail="Too many holds with a code from this customer")


async def read_code(conn: Connection, *, event_id: UUID, code: str | None) -> Pending | None:
    """The code a hold request names (None: none), checked; inside the hold's transaction."""
    if code is None:
        return None
    row = await _usable(conn, event_id=event_id, code=code)
    return Pending(
        id=row["id"],
        rule=_rule(row),
        presale=row["kind"] == "access",
        before_sale=bool(row["before_sale"]),
        uses=row["uses"],
    )


async def presale_pass(conn: Connection, *, event_id: UUID, code: str | None) -> bool:
    """True when `code` is a usable access code and the event's sale has not opened: its
    holder may hold without the waiting room's admission (the room admits nobody before
    the sale opens). Any other code, or none, is False (refusals come with the hold)."""
    if code is None:
        return False
    try:
        row = await _usable(conn, event_id=event_id, code=code)
    except (CodeUnknown, CodeNotValidNow, CodeExhausted, BadRequest):
        return False
    return row["kind"] == "access" and bool(row["before_sale"])


async def take_use(
    conn: Connection,
    *,
    pending: Pending,
    hold_id: UUID,
    customer_id: UUID,
    held: tuple[list[HeldTicket], int],
) -> None:
    """Take one use of the code for the new hold (`held`: its tickets and discount from
    `discounted`), as the last statement of its transaction: the code's row stays locked
    only until the commit that follows. Raises CodeNotApplicable (a discount code none of
    the tickets is of the type of; before the sale, an access code of a type some ticket is
    not of) and CodeExhausted (the last use went to a concurrent
    hold, or the code was switched off or ended meanwhile)."""
    tickets, discount = held
    rule = pending.rule
    if rule.kind == "discount" and not any(rule.applies_to(t.section) for t in tickets):
        raise CodeNotApplicable(f"This code applies to {rule.ticket_type} tickets only.", field="code")
    if pending.presale and pending.before_sale and not all(rule.applies_to(t.section) for t in tickets):
        raise CodeNotApplicable(f"This presale code is for {rule.ticket_type} tickets only.", field="code")
    args: tuple[Any, ...] = (pending.id, hold_id, customer_id, discount)
    query = Q.take_use if GUARDS.code_use_guarded else _UNGUARDED
    if not GUARDS.code_use_guarded:
        args = (*args, pending.uses)
    try:
        used = await conn.fetchval(query, *args)
    except asyncpg.LockNotAvailableError:
        raise Busy("Many buyers are using this code right now; retry shortly.") from None
    except asyncpg.CheckViolationError:  # only without the guard: the table's CHECK refuses
        raise CodeExhausted(field="code") from None
    if used is None:  # exhausted by concurrent holds (or switched off or ended meanwhile)
        raise CodeExhausted(field="code")


async def release_uses(conn: Connection, *, hold_ids: Sequence[UUID]) -> None:
    """Holds that ended unsold (expired, cancelled) give their uses back; in the
    transaction that ends them, after their tickets are released."""
    if hold_ids:
        await conn.execute(Q.release_uses, list(hold_ids))


async def confirm_use(conn: Connection, *, hold_id: UUID) -> None:
    """The hold is bought: its use is kept (the confirm's settle transaction)."""
    await conn.execute(Q.confirm_use, hold_id)


async def release_refunded_use(conn: Connection, *, purchase_id: UUID) -> None:
    """A purchase was refunded (the refund's settle transaction): the use of the hold it was
    bought with goes back once every ticket of that hold is refunded."""
    use_id = await conn.fetchval(Q.lock_use_of_purchase, purchase_id)
    if use_id is not None:
        await conn.execute(Q.release_refunded_use, use_id)


async def price_holds(conn: Connection, holds: Sequence[Hold]) -> list[Hold]:
    """The holds with the code each carries: its text, the discount and the tickets at their
    prices with it (their totals are stored discounted already)."""
    if not holds:
        return []
    rows = {r["hold_id"]: r for r in await conn.fetch(Q.uses_of_holds, [h.id for h in holds])}
    out = []
    for h in holds:
        row = rows.get(h.id)
        if row is None:
            out.append(h)
            continue
        priced, _ = discounted(h.tickets, _rule(row))
        out.append(
            msgspec.structs.replace(h, tickets=priced, code=row["code"], discount_cents=row["discount_cents"])
        )
    return out


async def price_held(conn: Connection, *, hold_id: UUID, tickets: Sequence[HeldTicket]) -> list[HeldTicket]:
    """A hold's tickets at the prices its buyer pays (with its code, if any)."""
    rows = await conn.fetch(Q.uses_of_holds, [hold_id])
    return discounted(tickets, _rule(rows[0]))[0] if rows else list(tickets)
