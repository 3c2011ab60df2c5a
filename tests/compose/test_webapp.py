"""The web app's server of docker-compose.yml (:3000): its files from the build, its pages
from the API, so an event's shared link shows the event (title and Open Graph tags).

    COMPOSE_BASE_URL=http://127.0.0.1:9999 COMPOSE_WEB_URL=http://127.0.0.1:3000 \\
        python -m pytest --noconftest -q tests/compose

`make compose-smoke` runs it (deploy/compose.sh); skipped without COMPOSE_BASE_URL. The
same nginx configuration runs without Docker in tests/e2e/test_compose_processes.py.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

BASE_URL = os.environ.get("COMPOSE_BASE_URL", "")
WEB_URL = os.environ.get("COMPOSE_WEB_URL", "http://127.0.0.1:3000")
pytestmark = pytest.mark.skipif(not BASE_URL, reason="COMPOSE_BASE_URL is unset (make compose-smoke sets it)")

ROCK = "550e8400-e29b-41d4-a716-446655440001"  # "Show de Rock", seeded


@pytest.fixture(scope="module")
def web() -> Iterator[httpx.Client]:
    with httpx.Client(base_url=WEB_URL, timeout=10) as client:
        yield client


def test_an_event_page_through_the_web_server_carries_its_open_graph_tags(web: httpx.Client) -> None:
    page = web.get(f"/events/{ROCK}")
    assert page.status_code == 200
    assert "<title>Show de Rock · CrowdPass</title>" in page.text
    assert '<meta property="og:title" content="Show de Rock" />' in page.text
    assert re.search(rf'<meta property="og:url" content="http[^"]*/events/{ROCK}" />', page.text)
    unknown = web.get(f"/events/{uuid.uuid4()}", headers={"Accept": "text/html"})
    assert unknown.status_code == 404 and "Event not found" in unknown.text


def test_the_app_pages_and_the_build_files_both_answer(web: httpx.Client) -> None:
    home = web.get("/")
    assert home.status_code == 200 and home.headers["cache-control"] == "no-cache"
    for path in (f"/events/{ROCK}/queue", "/tickets", "/organizer"):
        assert web.get(path).status_code == 200, path
    bundle = re.search(r'src="(/assets/[^"]+\.js)"', home.text)
    assert bundle is not None, home.text[:300]
    js = web.get(bundle.group(1))  # the API's page names a bundle nginx has: one build for both
    assert js.status_code == 200 and "immutable" in js.headers["cache-control"]
