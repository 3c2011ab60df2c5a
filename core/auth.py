"""Tokens and passwords. The only module that imports jwt.

Customer tokens: HS256, `sub` = customer id, `typ` = "customer".
Organizer: the configured ADMIN_TOKEN, sent as a bearer token.
Admission tokens (waiting room) are signed here too, with `aud` = event id.
Visitor tokens: an anonymous visitor's place in a waiting room, `aud` = "crowdpass:visitor".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import time
import uuid
from typing import Any

import jwt
import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, VerifyMismatchError
from litestar.connection import ASGIConnection
from litestar.types import ASGIApp, Receive, Scope, Send

from core.config import get_settings
from core.errors import Forbidden, Unauthorized

_ALGORITHM = "HS256"
# Argon2id with OWASP's minimum profile: 19 MiB, 2 passes. Hashing runs off the event loop.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class Principal(msgspec.Struct, frozen=True):
    customer_id: uuid.UUID | None
    is_admin: bool = False

    def require_customer(self) -> uuid.UUID:
        if self.customer_id is None:
            raise Forbidden("This needs a customer token.")
        return self.customer_id

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("This needs the organizer token.")

    def require_self_or_admin(self, customer_id: uuid.UUID) -> None:
        if not self.is_admin and self.customer_id != customer_id:
            raise Forbidden("A customer may only see their own account.")


# Each Argon2 run takes 19 MiB: at most this many run at once per process, so a burst of
# sign-ups queues for a slot instead of running the API out of memory.
_KDF_SLOTS = asyncio.Semaphore(2)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError):
        return False


async def hash_password(password: str) -> str:
    """Argon2id hash, computed off the event loop."""
    async with _KDF_SLOTS:
        return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    async with _KDF_SLOTS:
        return await asyncio.to_thread(_verify, password_hash, password)


def encode(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, get_settings().jwt_secret, algorithm=_ALGORITHM)


def decode(token: str, *, audience: str | None = None) -> dict[str, Any]:
    """Verify signature, expiry and (when given) audience. Raises jwt.InvalidTokenError."""
    options: jwt.types.Options = {"require": ["exp", "sub"]}
    claims: dict[str, Any] = jwt.decode(
        token, get_settings().jwt_secret, algorithms=[_ALGORITHM], audience=audience, options=options
    )
    return claims


InvalidToken = jwt.InvalidTokenError


def issue_customer_token(customer_id: uuid.UUID) -> str:
    now = int(time.time())
    return encode(
        {
            "sub": str(customer_id),
            "typ": "customer",
            "iat": now,
            "exp": now + get_settings().customer_token_ttl_s,
        }
    )


class _CustomerClaims(msgspec.Struct, forbid_unknown_fields=True):
    """Exactly the claims `issue_customer_token` writes."""

    sub: str
    typ: str
    iat: int
    exp: int


_customer_claims = msgspec.json.Decoder(_CustomerClaims)
# The header segment of every token this service signs, as the jwt library writes it.
_OUR_HEADER = jwt.encode({}, "h" * 32, algorithm=_ALGORITHM).partition(".")[0]


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def unverified_type(token: str) -> str | None:
    """The `typ` claim of a token read WITHOUT verifying it: only to tell one kind of token
    from another before the check that applies to it verifies it (a waitlist offer from a
    waiting room's admission). Never decide anything else from it."""
    try:
        claims = msgspec.json.decode(_b64url(token.split(".")[1]))
    except (IndexError, ValueError, msgspec.DecodeError):
        return None
    typ = claims.get("typ") if isinstance(claims, dict) else None
    return typ if isinstance(typ, str) else None


def _our_customer_token(token: str, secret: bytes) -> _CustomerClaims | None:
    """The claims of a customer token exactly as this service mints them, or None.

    pyjwt's general check (any header, any claims) costs ~23 µs; a flash sale verifies a
    token never seen before on every attempt. A token with our very header segment, a valid
    HMAC-SHA256 over `header.payload` and exactly our four claims is checked here in ~3 µs;
    anything else — another header, an extra claim, a bad signature, an `iat` in the
    future — returns None and is left to pyjwt, which decides as it always did.
    """
    signing_input, _, signature = token.rpartition(".")
    header, _, payload = signing_input.partition(".")
    if header != _OUR_HEADER:
        return None
    try:
        expected = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64url(signature)):
            return None
        claims = _customer_claims.decode(_b64url(payload))
    except (UnicodeEncodeError, binascii.Error, ValueError):  # msgspec's errors are ValueErrors
        return None
    return claims if claims.iat <= time.time() else None


def _verified_customer(token: str) -> tuple[Principal, int]:
    """The customer of a valid customer token, and its expiry (checked by the caller).

    Nothing is remembered between calls: the tokens this service mints verify in ~3 µs,
    and a cache of a flash sale's one-use tokens only kept ~50,000 entries alive for every
    full garbage collection to walk (see `core.runtime`).
    """
    ours = _our_customer_token(token, get_settings().jwt_secret.encode())
    if ours is not None and ours.typ == "customer":
        try:
            return Principal(customer_id=uuid.UUID(ours.sub)), ours.exp
        except ValueError:
            raise Unauthorized("The token is invalid.") from None
    try:
        claims = decode(token)
    except InvalidToken:
        raise Unauthorized("The token is invalid or expired.") from None
    if claims.get("typ") != "customer":
        raise Unauthorized("This is not a customer token.")
    try:
        return Principal(customer_id=uuid.UUID(claims["sub"])), int(claims["exp"])
    except (ValueError, TypeError):
        raise Unauthorized("The token is invalid.") from None


def principal_from_token(token: str) -> Principal:
    settings = get_settings()
    if hmac.compare_digest(token.encode(), settings.admin_token.encode()):
        return Principal(customer_id=None, is_admin=True)
    principal, expires = _verified_customer(token)
    if expires <= time.time():
        raise Unauthorized("The token is invalid or expired.")
    return principal


_PRINCIPAL = "crowdpass.principal"


def bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The bearer token of the `Authorization` header, and nothing else: never from the
    query, where URLs end up in logs, histories and Referer headers. A WebSocket, whose
    headers a browser cannot set, shows a one-use ticket instead (core/wstickets.py)."""
    header = connection.headers.get("authorization")
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def authentication_middleware(app: ASGIApp) -> ASGIApp:
    """A handler that takes `principal` needs a valid bearer token; the caller is
    established here, before the handler's dependencies.

    Refusing here, and not inside the `principal` dependency, matters: when one dependency
    raises while others are being resolved, Litestar never cleans up those already created,
    and a pooled database connection would leak with every 401. (A guard would do too, but
    Litestar runs a sync guard in a thread and copies the handler for every call.)
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if handler is not None and "principal" in handler.parsed_fn_signature.parameters:
            token = bearer(ASGIConnection(scope))
            if not token:
                raise Unauthorized()
            scope.setdefault("state", {})[_PRINCIPAL] = principal_from_token(token)
        await app(scope, receive, send)

    return middleware


async def provide_principal(scope: Scope) -> Principal:
    """Dependency: the caller, as established by `authentication_middleware`."""
    principal: Principal = scope["state"][_PRINCIPAL]
    return principal


# Visitor tokens: an anonymous place in a waiting room (API.md, "Waiting room"). Their own
# audience, so a visitor token is never taken for a customer token (pyjwt refuses a token
# with an `aud` when none is expected) and a customer token is never a visitor's.
VISITOR_AUDIENCE = "crowdpass:visitor"
VISITOR_TOKEN_TTL_S = 7 * 24 * 3600  # a pre-queue may open days after the first join


def issue_visitor_token(visitor_id: uuid.UUID, *, ttl_s: int = VISITOR_TOKEN_TTL_S) -> str:
    now = int(time.time())
    return encode(
        {"sub": str(visitor_id), "aud": VISITOR_AUDIENCE, "typ": "visitor", "iat": now, "exp": now + ttl_s}
    )


def visitor_from_token(token: str) -> uuid.UUID:
    """The visitor a visitor token names. 401 when it is forged, expired or not a visitor's."""
    try:
        claims = decode(token, audience=VISITOR_AUDIENCE)
    except InvalidToken:
        raise Unauthorized("The visitor token is invalid or expired.") from None
    if claims.get("typ") != "visitor":
        raise Unauthorized("This is not a visitor token.")
    try:
        return uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise Unauthorized("The visitor token is invalid.") from None


# Door-staff tokens: minted by the organizer for one event; they may scan tickets of that
# event and read its door kit, nothing else (they are not customer tokens).
DOOR_AUDIENCE_PREFIX = "door:"


def issue_door_token(event_id: uuid.UUID, *, door: str, ttl_s: int) -> tuple[str, int]:
    """A door-staff token for `event_id` and its expiry (epoch seconds)."""
    now = int(time.time())
    exp = now + ttl_s
    claims = {"sub": door, "typ": "door", "aud": f"{DOOR_AUDIENCE_PREFIX}{event_id}", "iat": now, "exp": exp}
    return encode(claims), exp


def door_of(token: str, *, event_id: uuid.UUID) -> str:
    """The door named in a valid door token of `event_id`; Unauthorized otherwise."""
    try:
        claims = decode(token, audience=f"{DOOR_AUDIENCE_PREFIX}{event_id}")
    except InvalidToken:
        raise Unauthorized("The door token is invalid, expired or for another event.") from None
    if claims.get("typ") != "door":
        raise Unauthorized("This is not a door token.")
    return str(claims["sub"])


# Password reset: one-use because the token carries a digest of the password hash it may
# replace; once the password changes, the digest no longer matches.
RESET_AUDIENCE = "password-reset"


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def issue_reset_token(customer_id: uuid.UUID, *, password_hash: str, ttl_s: int) -> str:
    now = int(time.time())
    claims = {
        "sub": str(customer_id),
        "typ": "reset",
        "aud": RESET_AUDIENCE,
        "pwd": password_fingerprint(password_hash),
        "iat": now,
        "exp": now + ttl_s,
    }
    return encode(claims)


def read_reset_token(token: str) -> tuple[uuid.UUID, str]:
    """(customer id, password fingerprint) of a valid reset token; Unauthorized otherwise."""
    try:
        claims = decode(token, audience=RESET_AUDIENCE)
        if claims.get("typ") != "reset":
            raise InvalidToken("not a reset token")
        return uuid.UUID(str(claims["sub"])), str(claims["pwd"])
    except (InvalidToken, KeyError, ValueError):
        raise Unauthorized("The reset link is invalid or expired.") from None
