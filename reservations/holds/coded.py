"""A code applied to a hold already made, from the checkout (docs/codes.md).

The hold's row is locked first (as every decision on a hold), then its use is taken as on
a new hold (`codes.take_use`, the transaction's last statement): lock order hold, code use,
code. Refused once a payment was attempted on the hold (its `charging_since` marker): the
amount a charge was asked for never changes under it, and neither does the provider's
Idempotency-Key's amount.
"""

from __future__ import annotations

from uuid import UUID

from arq.connections import ArqRedis

from core.auth import Principal
from core.db import Connection
from reservations.codes import service as codes
from reservations.codes.schemas import normal_code
from reservations.errors import CodeNotApplicable, CodeTooLate, HoldNotActive, HoldNotFound
from reservations.holds.schemas import Hold
from reservations.holds.service import Q, _after_commit, _load, _lock_own, _priced


async def apply_code(
    conn: Connection, redis: ArqRedis, *, hold_id: UUID, principal: Principal, code: str
) -> Hold:
    """The owner's active hold with a discount code: its tickets and total priced with it.
    The same code again answers the hold as it is. Raises HoldNotFound, Forbidden,
    HoldNotActive, CodeTooLate (another code, or a payment attempted), CodeNotApplicable
    (an access code: it opens a presale when holding), and the code's own refusals."""
    await codes.limit_tries(redis, customer_id=principal.require_customer(), code=code)
    async with conn.transaction():
        hold = await _lock_own(conn, hold_id, principal, organizer_may=False)
        if await conn.fetchval(Q.hold_of_an_order, hold_id):  # orders take no code (docs/codes.md)
            raise HoldNotFound()
        if hold["status"] != "active" or hold["overdue"]:
            raise HoldNotActive("This hold has ended; its tickets are back on sale.")
        current = await _load(conn, hold)
        if current.code is not None:
            if current.code == normal_code(code):
                return current
            raise CodeTooLate(f"This hold already carries the code {current.code}.", field="code")
        if await conn.fetchval(Q.hold_charging, hold_id):
            raise CodeTooLate("A payment was already attempted on this hold.", field="code")
        pending = await codes.read_code(conn, event_id=hold["event_id"], code=code)
        if pending is None or pending.presale:
            raise CodeNotApplicable(
                "An access code opens a presale when holding; this hold is made.", field="code"
            )
        held = codes.discounted(
            _priced(await conn.fetch(Q.tickets_of_hold, hold_id), hold["half_price_count"]), pending
        )
        await conn.fetchval(Q.lower_hold_total, hold_id, held[1])
        await codes.take_use(
            conn, pending=pending, hold_id=hold_id, customer_id=hold["customer_id"], held=held
        )
        result = await _load(conn, await conn.fetchrow(Q.get_hold, hold_id))
    await _after_commit(redis, event_ids=set(), holds=[result])
    return result
