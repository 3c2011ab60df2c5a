"""Admission tokens: JWTs with `sub` = customer, `aud` = event, `jti`, `exp`.

A token is a pure function of its claims, so any API instance can hand the same token
again to a visitor who reloads the page (nothing secret is stored in Redis).
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

import msgspec

from core import auth
from waitingroom.errors import AdmissionRequired

TOKEN_TYPE = "admission"  # noqa: S105 (a claim value, not a secret)


class AdmissionClaims(msgspec.Struct, frozen=True):
    customer_id: UUID
    event_id: UUID
    jti: str
    expires_s: int


def encode_admission(*, customer_id: UUID | str, event_id: UUID | str, jti: str, expires_ms: int) -> str:
    return auth.encode(
        {
            "sub": str(customer_id),
            "aud": str(event_id),
            "jti": jti,
            "exp": -(-expires_ms // 1000),  # whole seconds, rounded up: Redis holds the exact end
            "typ": TOKEN_TYPE,
        }
    )


def decode_admission(token: str, *, event_id: UUID) -> AdmissionClaims:
    """Verify signature, expiry and event; raise AdmissionRequired (403) on any failure."""
    try:
        claims = auth.decode(token, audience=str(event_id))
    except auth.InvalidToken as exc:
        reason = "has expired" if "expired" in str(exc).lower() else "is not valid for this event"
        raise AdmissionRequired(f"The admission token {reason}; join the queue again.") from None
    if claims.get("typ") != TOKEN_TYPE or not isinstance(claims.get("jti"), str):
        raise AdmissionRequired("This is not an admission token.")
    try:
        customer_id = UUID(str(claims["sub"]))
    except ValueError:
        raise AdmissionRequired("This is not an admission token.") from None
    return AdmissionClaims(
        customer_id=customer_id, event_id=event_id, jti=claims["jti"], expires_s=int(claims["exp"])
    )


def expires_at(expires_ms: int) -> dt.datetime:
    """The instant the admission stops working (to the millisecond)."""
    return dt.datetime.fromtimestamp(expires_ms / 1000, tz=dt.UTC)
