"""The domain's errors; each carries its HTTP status and stable code (docs/errors.md)."""

from __future__ import annotations

from core.errors import AppError, Conflict, Forbidden, NotFound


class EventNotFound(NotFound):
    code = "event_not_found"
    default_detail = "No event with this id."


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    default_detail = "No customer with this id."


class HoldNotFound(NotFound):
    code = "hold_not_found"
    default_detail = "No hold with this id."


class SeatNotFound(NotFound):
    code = "seat_not_found"
    default_detail = "A requested seat does not belong to this event."


class SoldOut(Conflict):
    code = "sold_out"
    default_detail = "No tickets are left for this request."


class LimitReached(Conflict):
    code = "limit_reached"
    default_detail = "This customer already holds or owns as many tickets as the event allows."


class SeatTaken(Conflict):
    code = "seat_taken"
    default_detail = "A requested seat is already held or sold."


class EmailTaken(Conflict):
    code = "email_taken"
    default_detail = "An account with this email already exists."


class NotOnSale(Conflict):
    code = "not_on_sale"
    default_detail = "This event is not on sale now."


class HoldNotActive(Conflict):
    code = "hold_not_active"
    default_detail = "This hold has already ended."


class HoldNotExtendable(Conflict):
    code = "hold_not_extendable"
    default_detail = "This hold cannot be extended."


class HoldExpired(AppError):
    status_code = 410
    code = "hold_expired"
    default_detail = "This hold has expired; its tickets are back on sale."


class PaymentDeclined(AppError):
    status_code = 402
    code = "payment_declined"
    default_detail = "The card was declined. The hold stays until it expires."


class PaymentUnavailable(AppError):
    status_code = 502
    code = "payment_unavailable"
    default_detail = "The payment provider did not answer; nothing was charged. Try again."


class AdmissionRequired(Forbidden):
    """Refused by the admission check plugged in through `reservations.hooks` (the waiting
    room's), or by the order gate for an event sold through a queue."""

    code = "admission_required"
    default_detail = "This event has a waiting room: present a valid, unused admission token."


# ---------------------------------------------------------------------------- codes (docs/codes.md)
# Every refusal of a buyer's code names `field: "code"` and writes nothing.


class CodeUnknown(AppError):
    status_code = 422
    code = "code_unknown"
    default_detail = "This event has no such code, or it was switched off."


class CodeNotValidNow(AppError):
    status_code = 422
    code = "code_not_valid_now"
    default_detail = "This code is not valid at this time."


class CodeNotApplicable(AppError):
    status_code = 422
    code = "code_not_applicable"
    default_detail = "This code does not apply to the tickets asked for."


class CodeExhausted(Conflict):
    code = "code_exhausted"
    default_detail = "This code has been used as many times as it allows."


class CodeNotFound(NotFound):
    code = "code_not_found"
    default_detail = "This event has no such code."


class CodeTaken(Conflict):
    code = "code_taken"
    default_detail = "This event already has a code with this text (codes ignore case)."


class CodeTooLate(Conflict):
    code = "code_too_late"
    default_detail = (
        "This hold already carries a code, or a payment was attempted on it: codes come before paying."
    )


class UnknownTicketType(AppError):
    status_code = 422
    code = "unknown_ticket_type"
    default_detail = "This event has no ticket type of this name."

    def __init__(self, detail: str | None = None, *, field: str | None = "ticket_type") -> None:
        super().__init__(detail, field=field)


class TicketTypeMismatch(AppError):
    status_code = 422
    code = "ticket_type_mismatch"
    default_detail = "A requested seat is not a ticket of the requested type."

    def __init__(self, detail: str | None = None, *, field: str | None = "ticket_type") -> None:
        super().__init__(detail, field=field)
