"""Bodies of the waitlist endpoints (API.md, "Waitlist")."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

from core.schemas import Out, Struct

MAX_WAITLIST_QUANTITY = 20  # the event's max_per_customer bounds it further

EntryStatus = str  # waiting | offered | used | expired | left


class WaitlistJoin(Struct, frozen=True):
    """`email` is required without a customer token (a signed-in buyer's defaults to their
    account's); `ticket_type` None: any type of the event."""

    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)] | None = None
    ticket_type: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    quantity: Annotated[int, msgspec.Meta(ge=1, le=MAX_WAITLIST_QUANTITY)] = 1


class WaitlistEntry(Out, frozen=True):
    id: uuid.UUID
    event_id: uuid.UUID
    status: EntryStatus
    # 1 = the next to be offered a ticket; null once offered or ended.
    position: int | None
    email: str
    ticket_type: str | None
    quantity: int
    offered_quantity: int | None
    offered_at: dt.datetime | None
    offer_expires_at: dt.datetime | None
    seconds_left: int
    created_at: dt.datetime
    # The secret that reads or leaves this entry without an account (`Waitlist-Token`
    # header); given at the join only, null elsewhere.
    entry_token: str | None = None
    # While offered: the admission for `POST /api/events/{id}/holds` (Admission-Token header)
    # and the checkout link carrying it. Only to the entry's own holder.
    offer_token: str | None = None
    checkout_url: str | None = None


class WaitlistRow(Out, frozen=True):
    """One entry as the organizer sees it."""

    id: uuid.UUID
    position: int | None
    email: str
    customer_id: uuid.UUID | None
    ticket_type: str | None
    quantity: int
    status: EntryStatus
    offered_quantity: int | None
    offered_at: dt.datetime | None
    offer_expires_at: dt.datetime | None
    created_at: dt.datetime


class Waitlist(Out, frozen=True):
    event_id: uuid.UUID
    enabled: bool
    waiting: int
    offered: int
    kept: int  # tickets kept for the waitlist right now (offered or about to be)
    entries: list[WaitlistRow]


class WaitlistSettings(Struct, frozen=True):
    enabled: bool


class WaitlistState(Out, frozen=True):
    event_id: uuid.UUID
    enabled: bool
