"""Abuse cases of the HTTP surface: security headers on every response, JSON only with a
JSON content type, the organizer's and customers' tokens only in the Authorization header
on plain HTTP routes, and a 401 counted as a 401 by /metrics."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import REGISTRY

from core.config import Settings
from core.resources import Resources
from tests.security.conftest import row_counts

CLIENTE = {"nome": "Ana", "email": "ana@example.com", "cpf": "52998224725"}


@pytest.mark.parametrize(
    "path",
    ["/", "/api/events", "/health", "/no-such-page", "/api/admin/jobs", "/schema/openapi.json", "/eventos/x"],
)
async def test_security_headers_on_every_response(
    res: Resources, client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    csp = r.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-eval'" not in csp
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("x-frame-options") == "DENY"
    assert r.headers.get("referrer-policy") in ("no-referrer", "strict-origin-when-cross-origin")


async def test_api_docs_still_load_under_their_policy(res: Resources, client: httpx.AsyncClient) -> None:
    r = await client.get("/schema/swagger")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "https://cdn.jsdelivr.net" in csp  # Swagger UI's script and style


async def test_the_web_app_may_reach_the_payment_provider_and_no_other_origin(
    res: Resources, client: httpx.AsyncClient, settings: Settings
) -> None:
    """The checkout tokenises the card at the provider: /api/config names it, and the
    page's policy lets fetch reach that origin (and only it besides the app's own)."""
    r = await client.get("/api/config")
    assert r.status_code == 200
    url = r.json()["payments_url"]
    assert url == settings.payments_browser_url
    connect = next(d for d in r.headers["content-security-policy"].split("; ") if d.startswith("connect-src"))
    assert connect.split()[1:] == ["'self'", url.rstrip("/")]


def test_the_policy_names_the_provider_by_origin_only() -> None:
    from core.security import app_policy

    assert "connect-src 'self' https://pay.example:8443;" in app_policy("https://pay.example:8443/v1/")
    assert "connect-src 'self';" in app_policy("/provider")  # behind the web app's own nginx
    assert "connect-src 'self';" in app_policy("")
    assert "connect-src 'self';" in app_policy("javascript:alert(1)")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
async def test_json_body_needs_a_json_content_type(
    res: Resources, client: httpx.AsyncClient, content_type: str | None
) -> None:
    before = await row_counts(res)
    raw = httpx.Request("POST", "/", json=CLIENTE).content
    request = client.build_request("POST", "/clientes", content=raw)
    request.headers.pop("content-type", None)
    if content_type is not None:
        request.headers["content-type"] = content_type
    r = await client.send(request)
    assert r.status_code == 415, r.text
    assert r.json()["error"] == "unsupported_media_type"
    assert r.json()["detail"]
    assert await row_counts(res) == before


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/merge-patch+json"])
async def test_json_content_types_are_accepted(
    res: Resources, client: httpx.AsyncClient, content_type: str
) -> None:
    raw = httpx.Request("POST", "/", json=CLIENTE).content
    r = await client.post("/clientes", content=raw, headers={"content-type": content_type})
    assert r.status_code == 201, r.text


async def test_organizer_token_only_in_the_authorization_header(
    res: Resources, client: httpx.AsyncClient, settings: Settings
) -> None:
    token = settings.admin_token
    assert (
        await client.get("/api/admin/jobs", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    r = await client.get("/api/admin/jobs", params={"token": token})
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    event = {"name": "X", "starts_at": "2027-01-01T00:00:00Z", "capacity": 5, "price_cents": 100}
    assert (await client.post("/api/events", params={"token": token}, json=event)).status_code == 401
    assert (await row_counts(res))["events"] == 0


async def test_customer_token_only_in_the_authorization_header(
    res: Resources, client: httpx.AsyncClient
) -> None:
    signed = await client.post(
        "/api/customers", json={"name": "Ana", "email": "ana@example.com", "password": "long enough"}
    )
    body = signed.json()
    path = f"/api/customers/{body['customer']['id']}"
    assert (await client.get(path, headers={"Authorization": f"Bearer {body['token']}"})).status_code == 200
    assert (await client.get(path, params={"token": body["token"]})).status_code == 401


def _count(route: str, status: str) -> float:
    labels = {"method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("crowdpass_request_seconds_count", labels) or 0.0


async def test_metrics_count_a_401_as_a_401(res: Resources, client: httpx.AsyncClient) -> None:
    route = "/api/admin/jobs"
    before_401, before_500 = _count(route, "401"), _count(route, "500")
    for _ in range(3):
        assert (await client.get(route)).status_code == 401
    assert _count(route, "401") == before_401 + 3
    assert _count(route, "500") == before_500
