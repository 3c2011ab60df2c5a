"""Job names of email (registered by jobs/tasks/mail.py)."""

from __future__ import annotations

SEND_MAIL_JOB = "mail.send"
QUEUE_RECEIPTS_JOB = "mail.queue_receipts"
