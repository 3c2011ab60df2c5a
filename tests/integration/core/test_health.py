from __future__ import annotations

from pathlib import Path

import httpx
import msgspec

from core.resources import Resources


async def test_health_reports_both_servers_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "postgres": "up", "redis": "up"}


async def test_unknown_path_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/path")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_live_server_answers_over_a_real_socket(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as c:
        response = await c.get("/health")
    assert response.status_code == 200


async def test_built_assets_are_cached_forever_and_index_is_not(tmp_path: Path, res: Resources) -> None:
    """Asset names carry a content hash, so browsers may keep them; index.html must be re-read."""
    from app import create_app

    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app-abc123.js").write_text("console.log(1)")
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    settings = msgspec.structs.replace(res.settings, frontend_dist=str(tmp_path))
    app = create_app(settings=settings, resources=res)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        asset = await c.get("/assets/app-abc123.js")
        index = await c.get("/")
    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]
    assert index.headers["cache-control"] == "no-cache"
