"""arq tasks: email.

`mail.send` hands one message to the SMTP relay; a failure is retried with exponential
backoff (5 s, 10 s, 20 s ... capped at 10 min) up to MAIL_MAX_TRIES, then logged and given
up. `mail.queue_receipts` runs every few seconds and queues the receipts of new purchases
(the sale path never waits for email).
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any

import msgspec
from arq import Retry
from arq.cron import cron
from arq.worker import func

from core.config import get_settings
from core.mail import Mail, mail_backoff_s, send_mail
from core.resources import Resources
from reservations.mail import service as mail
from reservations.mail.keys import QUEUE_RECEIPTS_JOB, SEND_MAIL_JOB

log = logging.getLogger("crowdpass.mail")


async def send(ctx: dict[str, Any], message: dict[str, Any]) -> str:
    letter = msgspec.convert(message, Mail)
    settings = get_settings()
    try:
        await send_mail(settings, letter)
    except (OSError, smtplib.SMTPException) as exc:
        tries: int = ctx.get("job_try", 1)
        if tries >= settings.mail_max_tries:
            log.error("giving up on mail %r to %s after %d tries: %s", letter.subject, letter.to, tries, exc)
            return "given_up"
        log.warning("mail %r to %s failed (try %d): %s", letter.subject, letter.to, tries, exc)
        raise Retry(defer=mail_backoff_s(tries)) from exc
    return "sent"


async def queue_receipts(ctx: dict[str, Any]) -> int:
    res: Resources = ctx["res"]
    async with res.pool.acquire() as conn:
        return await mail.queue_receipts(conn, res.redis)


functions: list[Any] = [func(send, name=SEND_MAIL_JOB, max_tries=1000, timeout=60, keep_result=600)]
cron_jobs: list[Any] = [
    cron(
        queue_receipts,
        name=QUEUE_RECEIPTS_JOB,
        second=set(range(0, 60, 2)),
        microsecond=0,
        unique=True,
        run_at_startup=True,
        timeout=30,
        keep_result=0,
    )
]
