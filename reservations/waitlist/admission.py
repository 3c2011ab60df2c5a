"""A waitlist offer's admission: a signed token like the waiting room's (a JWT with
`sub` = the entry, `aud` = the event, `typ` = "waitlist_offer", `exp` = the offer's end),
checked by the hold it pays for (reservations/holds/service.py `hold_tickets`): a valid
offer token lets that hold take the tickets pinned to the offer and stands in for the
waiting room's admission. The entry token (`typ` = "waitlist_entry") reads or leaves an
entry without an account. Both are pure functions of their claims.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from uuid import UUID

from core import auth
from core.config import get_settings
from core.db import Connection, queries_beside
from reservations.waitlist.errors import EntryNotFound, OfferNotValid

Q = queries_beside(__file__)

OFFER_TOKEN_TYPE = "waitlist_offer"  # noqa: S105 (a claim value, not a secret)
ENTRY_TOKEN_TYPE = "waitlist_entry"  # noqa: S105
ENTRY_TOKEN_TTL_S = 400 * 24 * 3600


def encode_offer(*, entry_id: UUID, event_id: UUID, expires_at: dt.datetime) -> str:
    return auth.encode(
        {
            "sub": str(entry_id),
            "aud": str(event_id),
            "typ": OFFER_TOKEN_TYPE,
            "exp": int(-(-expires_at.timestamp() // 1)),  # whole seconds, rounded up
        }
    )


def encode_entry(*, entry_id: UUID, event_id: UUID) -> str:
    return auth.encode(
        {
            "sub": str(entry_id),
            "aud": str(event_id),
            "typ": ENTRY_TOKEN_TYPE,
            "exp": int(time.time()) + ENTRY_TOKEN_TTL_S,
        }
    )


def checkout_url(*, event_id: UUID, offer_token: str) -> str:
    """The link that opens the event's checkout with the offer (the email's, the socket's)."""
    return f"{get_settings().public_url}/events/{event_id}?offer={offer_token}"


def _claims(token: str, *, event_id: UUID) -> dict[str, Any] | None:
    try:
        return auth.decode(token, audience=str(event_id))
    except auth.InvalidToken:
        return None


def entry_of_token(token: str, *, event_id: UUID) -> UUID:
    """The entry an entry token names; 404 `waitlist_entry_not_found` for anything else."""
    claims = _claims(token, event_id=event_id)
    if claims is None or claims.get("typ") != ENTRY_TOKEN_TYPE:
        raise EntryNotFound("This waitlist token is not valid for this event.")
    try:
        return UUID(str(claims["sub"]))
    except ValueError:
        raise EntryNotFound("This waitlist token is not valid for this event.") from None


async def admit_offer(
    conn: Connection, *, event_id: UUID, customer_id: UUID, token: str | None
) -> UUID | None:
    """None when `token` is no waitlist offer token (the waiting room's check follows).
    For an offer token: the offer (its entry id) when it is valid for this event, still
    offered and not past its time, and the customer is its holder (an entry joined without
    an account may be used by whoever signs in with its link); else 403 `offer_not_valid`."""
    if token is None or auth.unverified_type(token) != OFFER_TOKEN_TYPE:
        return None  # verification follows, for an offer token
    claims = _claims(token, event_id=event_id)
    if claims is None:
        raise OfferNotValid("This waitlist offer has expired or is for another event.")
    try:
        entry_id = UUID(str(claims["sub"]))
    except ValueError:
        raise OfferNotValid() from None
    offer = await conn.fetchrow(Q.offer_of, entry_id)
    if offer is None or offer["event_id"] != event_id or offer["status"] != "offered" or not offer["live"]:
        raise OfferNotValid()
    if offer["customer_id"] is not None and offer["customer_id"] != customer_id:
        raise OfferNotValid("This waitlist offer belongs to another customer.")
    return entry_id
