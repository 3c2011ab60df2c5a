"""The local mail sink of `make run` and the tests: an SMTP server (aiosmtpd) that keeps
every message it receives as an `.eml` file under MAIL_SINK_DIR, and the reader of that
store behind the web app's development mail page.

Run it with `python -m core.mailsink` (listens on SMTP_HOST:SMTP_PORT). Never in production:
there SMTP_* point at a real relay and MAIL_SINK_DIR stays empty.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.config import get_settings


class SinkHandler:
    """aiosmtpd handler: each message becomes `<time>-<id>.eml` in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(content)
        tmp.rename(self.directory / name)  # readers never see half a message
        return "250 Message accepted for delivery"


def start_sink(directory: Path, *, host: str, port: int) -> Controller:
    """Start the sink in its own thread; `.stop()` the returned controller."""
    controller = Controller(SinkHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


class SunkAttachment(msgspec.Struct, frozen=True, kw_only=True):
    filename: str
    content_type: str
    size: int


class SunkMail(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    sender: str
    to: str
    subject: str
    kind: str
    date: str
    text: str
    attachments: list[SunkAttachment]


def _read(path: Path) -> SunkMail:
    message: Any = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    attachments = [
        SunkAttachment(
            filename=part.get_filename() or "",
            content_type=part.get_content_type(),
            size=len(part.get_payload(decode=True) or b""),
        )
        for part in message.iter_attachments()
    ]
    return SunkMail(
        id=path.stem,
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        kind=str(message.get("X-CrowdPass-Kind", "")),
        date=str(message.get("Date", "")),
        text=body.get_content() if body is not None else "",
        attachments=attachments,
    )


def read_mailbox(directory: Path, *, limit: int = 100, to: str | None = None) -> list[SunkMail]:
    """What the sink received, newest first (only messages to `to` when given)."""
    if not directory.is_dir():
        return []
    found: list[SunkMail] = []
    for path in sorted(directory.glob("*.eml"), reverse=True):
        mail = _read(path)
        if to is None or to.lower() in mail.to.lower():
            found.append(mail)
            if len(found) >= limit:
                break
    return found


def attachment_bytes(directory: Path, mail_id: str, index: int) -> tuple[str, bytes] | None:
    """(content type, bytes) of one attachment of a sunk message, or None."""
    path = directory / f"{mail_id}.eml"
    if "/" in mail_id or not path.is_file():
        return None
    message: Any = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    parts = list(message.iter_attachments())
    if not 0 <= index < len(parts):
        return None
    return parts[index].get_content_type(), parts[index].get_payload(decode=True) or b""


def main() -> None:
    settings = get_settings()
    directory = Path(settings.mail_sink_dir or ".data/mail")
    controller = start_sink(directory, host=settings.smtp_host, port=settings.smtp_port)
    print(f"mail sink on {settings.smtp_host}:{settings.smtp_port}, storing in {directory}", flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
