"""Email: receipts with the e-ticket, refund and cancellation notices, password resets.

Everything here only queues a `mail.send` job (jobs/tasks/mail.py sends it over SMTP with
retries); nothing is sent on a request's path. Receipts are not queued by the sale itself:
a cron sweeps the purchases whose receipt is not queued yet (`take_due_receipts`), so the
sale path stays as it was and a receipt is queued once per purchase.
"""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Sequence

import msgspec
from arq.connections import ArqRedis

from core.config import get_settings
from core.db import Connection, queries_beside
from core.mail import Attachment, Mail
from reservations.etickets.render import qr_png
from reservations.etickets.schemas import ETicket
from reservations.etickets.service import eticket_from_row
from reservations.mail.keys import SEND_MAIL_JOB

Q = queries_beside(__file__)
RECEIPT_BATCH = 200


async def queue_mail(redis: ArqRedis, mail: Mail) -> None:
    await redis.enqueue_job(SEND_MAIL_JOB, msgspec.to_builtins(mail))


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _ticket_lines(ticket: ETicket) -> str:
    link = f"{get_settings().public_url}/tickets"
    return (
        f"  {ticket.event_name} — {ticket.venue}, {ticket.starts_at:%Y-%m-%d %H:%M} UTC\n"
        f"  {ticket.seat} · holder {ticket.holder} · {_money(ticket.price_cents)}\n"
        f"  Ticket {ticket.id}\n  Code: {ticket.code}\n  Your tickets: {link}\n"
    )


def receipt(tickets: Sequence[ETicket], *, to: str) -> Mail:
    first = tickets[0]
    total = sum(t.price_cents for t in tickets)
    body = "\n".join(_ticket_lines(t) for t in tickets)
    text = (
        f"Hello {first.holder},\n\nThank you for your purchase: {len(tickets)} ticket(s), "
        f"{_money(total)} in total.\n\n{body}\nShow the QR code (attached) at the door.\n"
    )
    attachments = [
        Attachment(
            filename=f"ticket-{t.id}.png",
            content_type="image/png",
            data_b64=base64.b64encode(qr_png(t.code)).decode("ascii"),
        )
        for t in tickets
    ]
    return Mail(
        to=to,
        subject=f"Your tickets for {first.event_name}",
        text=text,
        kind="receipt",
        attachments=attachments,
    )


async def queue_receipts(conn: Connection, redis: ArqRedis) -> int:
    """Queue the receipts of purchases not receipted yet: one email per buyer and event.
    Returns how many purchases were taken."""
    async with conn.transaction():
        taken = [r["id"] for r in await conn.fetch(Q.take_due_receipts, RECEIPT_BATCH)]
        rows = await conn.fetch(Q.mail_purchases, taken) if taken else []
        # Enqueued inside the transaction: if Redis fails, the purchases stay due.
        for _, group in itertools.groupby(rows, key=lambda r: (r["customer_id"], r["event_id"])):
            group_rows = list(group)
            tickets = [eticket_from_row(r) for r in group_rows]
            await queue_mail(redis, receipt(tickets, to=group_rows[0]["email"]))
    return len(taken)


async def queue_refund_notice(conn: Connection, redis: ArqRedis, *, purchase_id: uuid.UUID) -> bool:
    """Tell the holder their ticket was refunded (and why). False when there is no address."""
    rows = await conn.fetch(Q.mail_purchases, [purchase_id])
    if not rows:
        return False
    row = rows[0]
    ticket = eticket_from_row(row)
    refund_cents = row["refund_cents"] or 0
    fee = ticket.price_cents - refund_cents
    if row["refund_reason"] == "event_cancelled":
        subject = f"{ticket.event_name} is cancelled — your ticket is refunded"
        why = f"We are sorry: {ticket.event_name} has been cancelled by the organizer."
        kind = "cancellation"
    elif row["refund_reason"] == "buyer":
        subject = f"Your ticket for {ticket.event_name} is cancelled"
        why = "As you asked, your ticket has been cancelled."
        kind = "refund"
    else:
        subject = f"Your ticket for {ticket.event_name} is refunded"
        why = "The organizer has refunded your ticket."
        kind = "refund"
    fee_line = f" (a cancellation fee of {_money(fee)} was kept)" if fee > 0 else ""
    text = (
        f"Hello {ticket.holder},\n\n{why}\n\n  {ticket.seat} · ticket {ticket.id}\n"
        f"  Refunded: {_money(refund_cents)}{fee_line}\n\nThe ticket's code is no longer valid.\n"
    )
    await queue_mail(redis, Mail(to=row["email"], subject=subject, text=text, kind=kind))
    return True
