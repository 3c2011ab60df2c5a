"""Bodies of the code endpoints (docs/codes.md)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal

import msgspec

from core.errors import BadRequest
from core.schemas import Out, Struct, check_instant

UNSET: Any = msgspec.UNSET
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{3,32}")
CODE_RULE = "3 to 32 characters: letters A-Z, digits, '-' and '_' (case is ignored)"
Instant = Annotated[dt.datetime, msgspec.Meta(tz=True)]
CodeText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


def normal_code(text: str, *, field: str = "code") -> str:
    """The code as stored (upper case, no surrounding spaces), or a 400 naming `field`."""
    code = text.strip()
    if not CODE_PATTERN.fullmatch(code):  # checked before upper(), which maps "ß" to "SS"
        raise BadRequest(f"A code is {CODE_RULE}.", field=field)
    return code.upper()


class CodeCreate(Struct, frozen=True):
    """A presale (`access`) code or a `discount` code with exactly one of `percent_off` and
    `amount_off_cents` (per ticket, after half price; never below 0)."""

    code: CodeText
    kind: Literal["access", "discount"]
    percent_off: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    amount_off_cents: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)] | None = None
    ticket_type: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None  # null: every type
    max_uses: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | None = None  # null: unlimited
    valid_from: Instant | None = None
    valid_until: Instant | None = None

    def __post_init__(self) -> None:
        normal_code(self.code)
        if self.kind == "discount" and (self.percent_off is None) == (self.amount_off_cents is None):
            raise BadRequest(
                "A discount code has exactly one of percent_off and amount_off_cents.", field="percent_off"
            )
        if self.kind == "access" and (self.percent_off is not None or self.amount_off_cents is not None):
            raise BadRequest("An access code gives no discount.", field="percent_off")
        if self.ticket_type is not None and "\x00" in self.ticket_type:
            raise BadRequest("Must not contain NUL characters.", field="ticket_type")
        check_window(self.valid_from, self.valid_until)


def check_window(valid_from: dt.datetime | None, valid_until: dt.datetime | None) -> None:
    if valid_from is not None:
        check_instant(valid_from, field="valid_from")
    if valid_until is not None:
        check_instant(valid_until, field="valid_until")
    if valid_from is not None and valid_until is not None and valid_from >= valid_until:
        raise BadRequest("valid_until must come after valid_from.", field="valid_until")


class CodePatch(Struct, frozen=True):
    """Only the fields given change; the text, kind, amounts and type of a code never do
    (holds already priced with it would disagree)."""

    active: bool | msgspec.UnsetType = UNSET
    max_uses: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | msgspec.UnsetType | None = UNSET
    valid_from: Instant | msgspec.UnsetType | None = UNSET
    valid_until: Instant | msgspec.UnsetType | None = UNSET

    def __post_init__(self) -> None:
        for name in ("valid_from", "valid_until"):
            value = getattr(self, name)
            if isinstance(value, dt.datetime):
                check_instant(value, field=name)


class CodeView(Out, frozen=True):
    """A code as the organizer sees it, with its tracking."""

    id: uuid.UUID
    event_id: uuid.UUID
    code: str
    kind: str  # access | discount
    percent_off: int | None
    amount_off_cents: int | None
    ticket_type: str | None
    max_uses: int | None
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    active: bool
    created_at: dt.datetime
    uses: int  # held + confirmed: what counts against max_uses
    confirmed: int  # holds bought with it (not refunded)
    in_flight: int  # active holds carrying it
    revenue_cents: int  # paid with it, less refunds
    discount_cents: int  # discount given on the holds bought with it


class CodeCheck(Out, frozen=True):
    """What a buyer learns before holding: the code is usable now, and what it does."""

    code: str
    kind: str
    percent_off: int | None
    amount_off_cents: int | None
    ticket_type: str | None
    presale: bool  # an access code that lets its holder buy before the sale opens (now)


class CodeApply(Struct, frozen=True):
    """A discount code for a hold already made (the checkout)."""

    code: CodeText
