"""The waitlist's errors (docs/errors.md)."""

from __future__ import annotations

from core.errors import Conflict, Forbidden, NotFound


class NotSoldOut(Conflict):
    code = "waitlist_not_sold_out"
    default_detail = "Tickets are still on sale: buy one instead of joining the waitlist."


class WaitlistClosed(Conflict):
    code = "waitlist_closed"
    default_detail = "The organizer has turned this event's waitlist off."


class EntryNotFound(NotFound):
    code = "waitlist_entry_not_found"
    default_detail = "No waitlist entry of yours for this event."


class OfferNotValid(Forbidden):
    code = "offer_not_valid"
    default_detail = "This waitlist offer has expired or is not yours; it went to the next in line."
