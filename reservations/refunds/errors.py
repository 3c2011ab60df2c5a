"""Errors of refunds and cancellations (docs/errors.md)."""

from __future__ import annotations

from core.errors import Conflict


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"
    default_detail = "The organizer's policy does not let buyers cancel this ticket now."


class RefundInProgress(Conflict):
    code = "refund_in_progress"
    default_detail = "This ticket is being refunded right now; ask again in a moment."
