"""The web app's pages: index.html for every path the app routes (frontend/src/App.tsx), and
an event's page with its own title, description and Open Graph tags, filled in on the server
so a link pasted into a chat shows the event (link previews run no JavaScript)."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar import MediaType, Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from core.deps import ConnDep
from core.errors import http_error_handler
from reservations.errors import EventNotFound
from reservations.events.schemas import Event
from reservations.events.service import get_event

# The app's pages other than "/" and an event's (App.tsx): each answers index.html, the
# router in the page picks the page. Everything else (/api, /schema, /health, /metrics, the
# challenge paths, unknown paths) keeps its own answer or 404.
APP_PATHS = [
    "/index.html",
    "/events",
    "/events/{event_id:str}/queue",
    "/checkout/{hold_id:str}",
    "/feed",
    "/tickets",
    "/me",
    "/organizer",
    "/organizer/events/{event_id:str}",
    "/jobs",
    "/organizer/events/{event_id:str}/manage",
    "/door/{event_id:str}",
    "/dev/mail",
    "/reset-password",
]

_TITLE = re.compile(r"<title>.*?</title>", re.S)
_DESCRIPTION = re.compile(r'<meta name="description" content="[^"]*"\s*/?>')


def event_meta(event: Event, *, url: str) -> dict[str, str]:
    """The title, description and Open Graph fields of an event's page (plain text)."""
    when = event.starts_at.astimezone(dt.UTC).strftime("%d %b %Y, %H:%M UTC")
    description = f"{event.venue} · {when}. Tickets on CrowdPass."
    return {
        "title": f"{event.name} · CrowdPass",
        "description": description,
        "og:title": event.name,
        "url": url,
    }


def fill_meta(index: str, meta: dict[str, str]) -> str:
    """index.html with the page's title, description and Open Graph tags, every value escaped."""
    e = {k: html.escape(v, quote=True) for k, v in meta.items()}
    page = _TITLE.sub(lambda _: f"<title>{e['title']}</title>", index, count=1)
    description = f'<meta name="description" content="{e["description"]}" />'
    page = _DESCRIPTION.sub(lambda _: description, page, count=1)
    if description not in page:
        page = page.replace("</head>", f"  {description}\n  </head>", 1)
    og = "".join(
        f'\n    <meta property="{p}" content="{v}" />'
        for p, v in (
            ("og:type", "website"),
            ("og:site_name", "CrowdPass"),
            ("og:title", e["og:title"]),
            ("og:description", e["description"]),
            ("og:url", e["url"]),
        )
    )
    card = '\n    <meta name="twitter:card" content="summary" />'
    tags = f'{og}{card}\n    <link rel="canonical" href="{e["url"]}" />\n'
    return page.replace("</head>", f"{tags}  </head>", 1)


def _html(body: str | bytes, status: int = 200) -> Response[bytes]:
    data = body.encode() if isinstance(body, str) else body
    return Response(
        data, status_code=status, media_type=MediaType.HTML, headers={"Cache-Control": "no-cache"}
    )


def frontend_routes(dist: Path) -> list[ControllerRouterHandler]:
    """The built app (frontend/dist) at its paths, or a placeholder page when it is not built."""
    index = dist / "index.html"
    if not index.exists():

        @get("/", include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False)
        def placeholder() -> str:
            return (
                "<!doctype html><title>CrowdPass</title><h1>CrowdPass</h1>"
                "<p>The web app is not built yet: run <code>make frontend</code>.</p>"
                '<p><a href="/schema/swagger">API documentation</a></p>'
            )

        return [placeholder]

    @get(["/", *APP_PATHS], include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False)
    def spa() -> Response[bytes]:
        return _html(index.read_bytes())

    @get("/events/{event_id:str}", include_in_schema=False, media_type=MediaType.HTML)
    async def event_page(
        request: Request[Any, Any, Any], conn: ConnDep, event_id: FromPath[str]
    ) -> Response[bytes]:
        page = index.read_text(encoding="utf-8")
        try:
            event = await get_event(conn, event_id=uuid.UUID(event_id))
        except (ValueError, EventNotFound):
            # The app shows its "event not found" page; crawlers and link previews see the 404.
            return _html(fill_meta(page, _not_found(str(request.url))), status=404)
        return _html(fill_meta(page, event_meta(event, url=str(request.url))))

    routes: list[ControllerRouterHandler] = [spa, event_page]
    if (dist / "assets").is_dir():
        routes.append(
            create_static_files_router(
                path="/assets",
                directories=[dist / "assets"],
                include_in_schema=False,
                name="assets",
                # File names carry a content hash: a file never changes under its name.
                cache_control=CacheControlHeader(public=True, max_age=31_536_000, immutable=True),
            )
        )
    return routes


# Paths whose 404 stays the API's JSON error, whatever the client accepts.
_API_PREFIXES = ("/api", "/schema", "/health", "/metrics", "/assets", "/clientes", "/eventos", "/compras")


def not_found_handler(dist: Path) -> Callable[[Request[Any, Any, Any], NotFoundException], Response[bytes]]:
    """A browser asking for a path the app does not know gets the app's "page not found" (with
    the 404 status); API clients and the API's own paths keep the JSON error."""
    index = dist / "index.html"

    def handle(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[bytes]:
        path = request.url.path
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if not wants_page or path.startswith(_API_PREFIXES) or not index.exists():
            return http_error_handler(request, exc)
        meta = {
            "title": "Page not found · CrowdPass",
            "description": "This address does not lead anywhere on CrowdPass.",
            "og:title": "Page not found",
            "url": str(request.url),
        }
        return _html(fill_meta(index.read_text(encoding="utf-8"), meta), status=404)

    return handle


def _not_found(url: str) -> dict[str, str]:
    return {
        "title": "Event not found · CrowdPass",
        "description": "This event does not exist on CrowdPass.",
        "og:title": "Event not found",
        "url": url,
    }
