"""Errors of this sub-domain; each carries its HTTP status and stable code (docs/errors.md)."""

from __future__ import annotations

from core.errors import AppError, BadRequest


class OrderNotFound(AppError):
    status_code = 404
    code = "order_not_found"
    default_detail = "No order with this id."


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency_key_required"
    default_detail = "POST /api/orders needs an Idempotency-Key header (1 to 255 visible characters)."


class CodeNotAccepted(AppError):
    """Orders are the flash-sale path (one Redis step, a batched worker): no code there.
    Presale and discount codes go through holds (docs/codes.md)."""

    status_code = 422
    code = "code_not_accepted"
    default_detail = (
        "Orders take no code: use a presale or discount code with a hold "
        "(POST /api/events/{id}/holds with `code`), then confirm it."
    )
