"""The web app's pages: index.html at the app's paths, an event's page with its own tags."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest

from core.resources import Resources
from tests.conftest import asgi_client
from tests.factories import make_event

INDEX = (
    "<!doctype html><html><head>\n"
    '    <meta name="description" content="CrowdPass: tickets." />\n'
    "    <title>CrowdPass · tickets</title>\n  </head><body><div id=root></div></body></html>"
)


@pytest.fixture
async def web(tmp_path: Path, res: Resources) -> AsyncIterator[httpx.AsyncClient]:
    from app import create_app

    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    settings = msgspec.structs.replace(res.settings, frontend_dist=str(tmp_path))
    app = create_app(settings=settings, resources=res)
    async with asgi_client(app, base_url="http://t") as c:
        yield c


@pytest.mark.parametrize(
    "path",
    ["/", "/events", "/events/x/queue", "/checkout/h1", "/feed", "/tickets", "/me", "/organizer", "/jobs"],
)
async def test_the_app_answers_its_paths(web: httpx.AsyncClient, path: str) -> None:
    response = await web.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "<div id=root>" in response.text


@pytest.mark.parametrize("path", ["/api/nope", "/healthz", "/eventos/x/y", "/nowhere", "/events/a/b"])
async def test_other_paths_keep_their_own_404(web: httpx.AsyncClient, path: str) -> None:
    response = await web.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_a_browser_on_an_unknown_page_gets_the_apps_404(web: httpx.AsyncClient) -> None:
    html = {"accept": "text/html,application/xhtml+xml"}
    response = await web.get("/nowhere/at/all", headers=html)
    assert response.status_code == 404
    assert "<div id=root>" in response.text
    assert "<title>Page not found · CrowdPass</title>" in response.text
    for path in ("/api/nope", "/schema/nope", "/eventos/x/y", "/assets/nope.js"):
        api = await web.get(path, headers=html)
        assert api.status_code == 404, path
        assert "<div id=root>" not in api.text, path


async def test_the_api_keeps_its_answers(web: httpx.AsyncClient) -> None:
    assert (await web.get("/health")).json()["status"] == "ok"
    assert (await web.get("/api/events")).headers["content-type"].startswith("application/json")


async def test_an_event_page_carries_its_title_description_and_open_graph_tags(
    web: httpx.AsyncClient, res: Resources
) -> None:
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, name='Rock & "Roll" <live>')
    response = await web.get(f"/events/{eid}")
    assert response.status_code == 200
    page = response.text
    assert "<title>Rock &amp; &quot;Roll&quot; &lt;live&gt; · CrowdPass</title>" in page
    assert '<meta property="og:title" content="Rock &amp; &quot;Roll&quot; &lt;live&gt;" />' in page
    assert f'<meta property="og:url" content="http://t/events/{eid}" />' in page
    assert page.count('name="description"') == 1
    assert "CrowdPass: tickets." not in page
    assert "<live>" not in page  # escaped everywhere


@pytest.mark.parametrize("event_id", ["0b6f2a9e-3c1d-4e8a-9f57-2d4c6b8a1e03", "not-a-uuid"])
async def test_an_unknown_event_is_the_apps_page_with_a_404(web: httpx.AsyncClient, event_id: str) -> None:
    response = await web.get(f"/events/{event_id}")
    assert response.status_code == 404
    assert "<div id=root>" in response.text
    assert "<title>Event not found · CrowdPass</title>" in response.text
