"""Bad input on every endpoint of customers, events, purchases and the challenge contract:
each gets a 400 (413 when too big) naming the field, and nothing is written."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from core.config import Settings
from core.resources import Resources

TABLES = ("customers", "events", "sections", "tickets", "purchases", "allowances", "holds")

# path, a valid body, whether the organizer token is needed
BODIES: list[tuple[str, dict[str, Any], bool]] = [
    ("/clientes", {"nome": "Ana", "email": "ana@example.com", "cpf": "52998224725"}, False),
    ("/eventos", {"nome": "X", "data": "2027-01-01T00:00:00Z", "capacidade": 10, "preco": 100}, False),
    ("/compras", {"cliente_id": str(uuid.uuid4()), "evento_id": str(uuid.uuid4())}, False),
    ("/api/customers", {"name": "Ana", "email": "ana@example.com", "password": "long enough"}, False),
    ("/api/sessions", {"email": "ana@example.com", "password": "long enough"}, False),
    (
        "/api/events",
        {"name": "X", "starts_at": "2027-01-01T00:00:00Z", "capacity": 5, "price_cents": 100},
        True,
    ),
]

CASES = [(path, body, admin, field) for path, body, admin in BODIES for field in body]
IDS = [f"{path}:{field}" for path, _, _, field in CASES]
TEXT_CASES = [case for case in CASES if isinstance(case[1][case[3]], str)]
TEXT_IDS = [f"{path}:{field}" for path, _, _, field in TEXT_CASES]
NUMBER_CASES = [case for case in CASES if isinstance(case[1][case[3]], int)]
NUMBER_IDS = [f"{path}:{field}" for path, _, _, field in NUMBER_CASES]
PATHS = [(path, body, admin) for path, body, admin in BODIES]


async def counts(res: Resources) -> dict[str, int]:
    return {t: await res.pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}  # noqa: S608


def _wrong_type(value: Any) -> Any:
    return "12" if isinstance(value, int) else 12345


async def _post(
    client: httpx.AsyncClient, settings: Settings, path: str, admin: bool, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {settings.admin_token}"} if admin else {}
    headers |= kwargs.pop("headers", {})
    return await client.post(path, headers=headers, **kwargs)


def _assert_400(r: httpx.Response, field: str | None) -> None:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_input"
    assert body["detail"]
    if field is not None:
        assert body["field"] == field


@pytest.mark.parametrize(("path", "body", "admin", "field"), CASES, ids=IDS)
async def test_missing_field(
    res: Resources,
    client: httpx.AsyncClient,
    settings: Settings,
    path: str,
    body: dict[str, Any],
    admin: bool,
    field: str,
) -> None:
    before = await counts(res)
    partial = {k: v for k, v in body.items() if k != field}
    _assert_400(await _post(client, settings, path, admin, json=partial), field)
    assert await counts(res) == before


@pytest.mark.parametrize(("path", "body", "admin", "field"), CASES, ids=IDS)
async def test_wrong_type_and_null(
    res: Resources,
    client: httpx.AsyncClient,
    settings: Settings,
    path: str,
    body: dict[str, Any],
    admin: bool,
    field: str,
) -> None:
    before = await counts(res)
    _assert_400(
        await _post(client, settings, path, admin, json=body | {field: _wrong_type(body[field])}), field
    )
    _assert_400(await _post(client, settings, path, admin, json=body | {field: None}), field)
    _assert_400(await _post(client, settings, path, admin, json=body | {field: [body[field]]}), field)
    assert await counts(res) == before


@pytest.mark.parametrize(("path", "body", "admin", "field"), TEXT_CASES, ids=TEXT_IDS)
async def test_huge_string(
    res: Resources,
    client: httpx.AsyncClient,
    settings: Settings,
    path: str,
    body: dict[str, Any],
    admin: bool,
    field: str,
) -> None:
    before = await counts(res)
    _assert_400(await _post(client, settings, path, admin, json=body | {field: "9" * 60_000}), field)
    assert await counts(res) == before


@pytest.mark.parametrize("case", NUMBER_CASES, ids=NUMBER_IDS)
async def test_overflowing_number(
    res: Resources, client: httpx.AsyncClient, settings: Settings, case: tuple[str, dict[str, Any], bool, str]
) -> None:
    path, body, admin, field = case
    before = await counts(res)
    for number in (b"1" + b"0" * 30, b"-1" + b"0" * 30, b"1e400", b"-1e400", b"1" + b"0" * 5000):
        raw = json.dumps(body | {field: 777_777}).encode().replace(b"777777", number)
        headers = {"content-type": "application/json"}
        _assert_400(await _post(client, settings, path, admin, content=raw, headers=headers), field)
    assert await counts(res) == before


@pytest.mark.parametrize(("path", "body", "admin"), PATHS, ids=[p for p, _, _ in PATHS])
async def test_malformed_bodies(
    res: Resources,
    client: httpx.AsyncClient,
    settings: Settings,
    path: str,
    body: dict[str, Any],
    admin: bool,
) -> None:
    before = await counts(res)
    for raw in (b"", b"   ", b"{", b'{"a": 1,}', b"[]", b"null", b"42", b'"text"', b"\xff\xfe", b"{} {}"):
        r = await _post(
            client, settings, path, admin, content=raw, headers={"content-type": "application/json"}
        )
        _assert_400(r, None)
    unknown = await _post(client, settings, path, admin, json=body | {"surprise": 1})
    _assert_400(unknown, "surprise")
    too_big = await _post(client, settings, path, admin, json=body | {"padding": "x" * 70_000})
    assert too_big.status_code == 413
    assert too_big.json()["error"] == "payload_too_large"
    assert await counts(res) == before


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/clientes/not-a-uuid", "id"),
        ("/eventos/550e8400", "id"),
        ("/eventos/" + "a" * 5000, "id"),
        ("/api/events/%20", "event_id"),
        ("/api/events/123/seats", "event_id"),
        ("/api/customers/zzz", "customer_id"),
    ],
)
async def test_bad_ids_in_paths(
    res: Resources, client: httpx.AsyncClient, settings: Settings, path: str, field: str
) -> None:
    r = await client.get(path, headers={"Authorization": f"Bearer {settings.admin_token}"})
    _assert_400(r, field)


@pytest.mark.parametrize(
    "query",
    [
        "/compras?limite=1&pagina=abc",
        "/api/purchases?limit=-1",
        "/api/events?limit=x",
        "/api/events?from=1/2/2027",
        "/compras?limite=1&pagina=" + "9" * 40,
        "/compras?limite=-1e400",
        "/api/events?limit=" + "9" * 5000,
    ],
)
async def test_bad_query_values(res: Resources, client: httpx.AsyncClient, query: str) -> None:
    r = await client.get(query)
    assert r.status_code == 400
    assert r.json()["field"]
