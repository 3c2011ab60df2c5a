"""Email over SMTP: the message a job carries, and sending it (standard library only).

Sending is blocking `smtplib`, run in a thread; it is only ever called by the mail job
(jobs/tasks/mail.py), never on a request's path. Settings: `SMTP_*`, `MAIL_FROM`
(docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import base64
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

import msgspec

from core.config import Settings


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    filename: str
    content_type: str  # e.g. "image/png"
    data_b64: str


class Mail(msgspec.Struct, frozen=True, kw_only=True):
    to: str
    subject: str
    text: str
    html: str | None = None
    kind: str = "notice"  # receipt | refund | cancellation | password_reset | ...: a header, for the sink
    attachments: list[Attachment] = msgspec.field(default_factory=list)


def build_message(mail: Mail, *, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain="crowdpass")
    message["X-CrowdPass-Kind"] = mail.kind
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    for a in mail.attachments:
        maintype, _, subtype = a.content_type.partition("/")
        message.add_attachment(
            base64.b64decode(a.data_b64), maintype=maintype, subtype=subtype, filename=a.filename
        )
    return message


def _send_blocking(settings: Settings, message: EmailMessage) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


async def send_mail(settings: Settings, mail: Mail) -> None:
    """Hand one message to the SMTP relay. Raises OSError or smtplib.SMTPException."""
    await asyncio.to_thread(_send_blocking, settings, build_message(mail, sender=settings.mail_from))


def mail_backoff_s(job_try: int) -> float:
    """Delay before try number `job_try + 1`: 5 s, 10 s, 20 s ... capped at 10 minutes."""
    return float(min(5 * 2 ** (job_try - 1), 600))
