"""Security headers on every HTTP response.

`security_headers(settings)` makes a before-send hook (`Litestar(before_send=[...])`): Litestar
calls it for every message it sends, also the error responses rendered outside the route's
middleware (a 401 from `core.auth`, a 404 for an unknown path), which an ASGI middleware
inside the app never sees. Each response gets a precomputed header list. (The JSON
content-type rule is enforced where bodies are decoded: `core.schemas.StrictBody`.)
"""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.types import BeforeMessageSendHookHandler, Message, Scope

from core.config import Settings

# The web app (frontend/dist) loads its script and stylesheet from /assets and talks to
# this origin (fetch and WebSockets) and to the payment provider, where the checkout
# tokenises the card (`Settings.payments_browser_url`); its icon is a data: URI, and an
# e-ticket's QR code, fetched with the bearer token, is shown from a blob: URL. React sets
# style properties through the CSSOM, which a style-src without 'unsafe-inline' allows.
APP_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'{provider}; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI under /schema: Litestar's page loads swagger-ui from jsdelivr and starts it
# with an inline script.
_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_CDN}; img-src 'self' data: {_CDN}; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PREFIX = "/schema"

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_DOCS_HEADERS = [(b"content-security-policy", DOCS_POLICY.encode()), *_COMMON]


def app_policy(payments_browser_url: str) -> str:
    """The web app's policy, letting its pages reach the payment provider's origin."""
    parts = urlsplit(payments_browser_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    return APP_POLICY.format(provider=f" {origin}" if origin else "")


def security_headers(settings: Settings) -> BeforeMessageSendHookHandler:
    app_headers = [(b"content-security-policy", app_policy(settings.payments_browser_url).encode()), *_COMMON]

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            extra = _DOCS_HEADERS if scope["path"].startswith(DOCS_PREFIX) else app_headers
            message["headers"] = [*message.get("headers", ()), *extra]

    return add_security_headers
