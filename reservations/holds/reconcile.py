"""Charges nobody settled: the reconcile of hold confirms (the cron `cron:holds.reconcile`).

A confirm marks its hold (`charging_since`) in its reserve step, charges the card with
nothing open, then settles (confirm.py). If its process dies between the charge and the
settle, the provider has captured money for a hold PostgreSQL still has as unpaid. A
marker older than `older_than_s` (longer than any confirm takes) is such a case, or a
confirm whose charge was declined, never sent, or left without an answer.

For each one the provider is asked for the hold's succeeded charges (every hold charge
carries the hold's description), and each is put through the confirm's own settle step:
the hold is confirmed with it when still active and not past `expires_at`; otherwise the
charge is refunded through the provider's idempotent refund. A charge the hold was
confirmed with is never refunded. The marker goes once the provider has no succeeded
charge of the hold left but the one it was paid with; until then the next run tries
again, and settling or refunding a second time changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from uuid import UUID

import httpx
import msgspec
from arq.connections import ArqRedis

from core import payments
from core.config import get_settings
from core.db import Pool
from core.errors import Busy
from reservations.errors import HoldExpired, HoldNotActive
from reservations.holds.confirm import _settle_confirm, payment_description
from reservations.holds.service import Q

log = logging.getLogger("crowdpass.holds.reconcile")

MAX_STRANDED = 100  # holds looked at per run


class StrandedReport(msgspec.Struct, frozen=True, kw_only=True):
    checked: int  # markers older than the grace
    settled: int  # holds confirmed with a charge their confirm never settled
    refunded: int  # holds whose stranded charge went back (the hold had ended)
    unresolved: int  # provider unreachable, hold row busy or a refund failed: next run


def charge_grace_s() -> float:
    """How old a marker must be: the setting, and never less than twice the longest charge."""
    s = get_settings()
    return max(s.hold_charge_grace_s, 2 * s.payments_timeout_s * (s.payments_retries + 1))


async def settle_stranded_charges(
    pool: Pool, redis: ArqRedis, *, http: httpx.AsyncClient, older_than_s: float, limit: int = MAX_STRANDED
) -> StrandedReport:
    rows = await pool.fetch(Q.stranded_charges, older_than_s, limit)
    outcomes = {"settled": 0, "refunded": 0, "unresolved": 0, "none": 0}
    for row in rows:
        try:
            outcome = await _settle_stranded(
                pool, redis, http=http, hold_id=row["id"], since=row["charging_since"]
            )
        except Exception:  # one bad hold does not stop the others
            log.exception("hold %s: its stranded charge could not be reconciled", row["id"])
            outcome = "unresolved"
        outcomes[outcome] += 1
    return StrandedReport(
        checked=len(rows),
        settled=outcomes["settled"],
        refunded=outcomes["refunded"],
        unresolved=outcomes["unresolved"],
    )


async def _succeeded(http: httpx.AsyncClient, hold_id: UUID) -> list[payments.Charge]:
    settings = get_settings()
    return await payments.find_charges(
        http,
        description=payment_description(hold_id),
        status="succeeded",
        retries=settings.payments_retries,
        timeout_s=settings.payments_timeout_s,
    )


async def _settle_stranded(
    pool: Pool, redis: ArqRedis, *, http: httpx.AsyncClient, hold_id: UUID, since: dt.datetime
) -> str:
    """settled | refunded | none (nothing was captured) | unresolved."""
    try:
        found = await _succeeded(http, hold_id)
    except payments.PaymentError as exc:
        log.warning("hold %s: the provider could not list its charges (%s); next run", hold_id, exc)
        return "unresolved"
    paid = await pool.fetchval(Q.hold_payment, hold_id)
    outcome = "none"
    for charge in found:
        if charge.id == paid:
            continue
        try:
            await _settle_confirm(pool, redis, http=http, hold_id=hold_id, charge_id=charge.id)
        except (HoldExpired, HoldNotActive):
            outcome = "refunded"  # the settle step refunded it (checked below)
            log.warning("hold %s had ended: its unsettled charge %s is refunded", hold_id, charge.id)
        except Busy:
            return "unresolved"
        else:
            paid, outcome = charge.id, "settled"
            log.warning("hold %s confirmed with the charge %s its confirm never settled", hold_id, charge.id)
    if outcome != "none":
        try:
            left = await _succeeded(http, hold_id)
        except payments.PaymentError:
            return "unresolved"
        paid = await pool.fetchval(Q.hold_payment, hold_id)
        if any(c.id != paid for c in left):  # a refund failed (logged by the settle step)
            return "unresolved"
    await pool.execute(Q.clear_charging, hold_id, since)
    return outcome
