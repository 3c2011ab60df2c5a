from __future__ import annotations

import httpx


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
