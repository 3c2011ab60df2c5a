"""Abuse cases of bad input (issue 15, part A): instants outside 1970..2200, invalid UTF-8
and NUL bytes in text. Each is a 400 `invalid_input` naming the field,
and nothing is written."""

from __future__ import annotations

import httpx
import pytest

from core.resources import Resources
from tests.security.conftest import assert_invalid, row_counts

EVENTO = {"nome": "X", "data": "2027-01-01T00:00:00Z", "capacidade": 1, "preco": 1}
EVENT = {"name": "X", "starts_at": "2027-01-01T00:00:00Z", "capacity": 5, "price_cents": 100}
OUTSIDE = [
    "0001-01-01",  # stored as -infinity by PostgreSQL's driver
    "0001-01-01T00:00:00+01:00",  # overflows when converted to UTC
    "1969-12-31T23:59:59Z",
    "2200-01-01T00:00:01Z",
    "9999-12-31T23:59:59.999999Z",  # stored as +infinity
    "9999-12-31T23:59:59-05:00",
]


@pytest.mark.parametrize("data", OUTSIDE)
async def test_challenge_event_date_outside_the_window(
    res: Resources, client: httpx.AsyncClient, data: str
) -> None:
    before = await row_counts(res)
    assert_invalid(await client.post("/eventos", json=EVENTO | {"data": data}), "data")
    assert await row_counts(res) == before
    assert (await client.get("/api/events")).status_code == 200


# An opening after 2200 is already refused as later than the start (itself before 2200).
INSTANTS = [("starts_at", v) for v in OUTSIDE if "T" in v] + [
    ("sales_open_at", v) for v in OUTSIDE if "T" in v and v < "2"
]


@pytest.mark.parametrize(("field", "value"), INSTANTS)
async def test_organizer_event_instant_outside_the_window(
    res: Resources, client: httpx.AsyncClient, organizer: dict[str, str], field: str, value: str
) -> None:
    body = EVENT | {field: value}
    before = await row_counts(res)
    assert_invalid(await client.post("/api/events", json=body, headers=organizer), field)
    assert await row_counts(res) == before
    assert (await client.get("/api/events")).status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("to=9999-12-31", "to"),
        ("to=9999-12-31T23:59:59.999999Z", "to"),
        ("from=0001-01-01T00:00:00%2B01:00", "from"),
        ("from=0001-01-01", "from"),
        ("to=2200-01-02", "to"),
    ],
)
async def test_event_list_window_outside_the_window(
    res: Resources, client: httpx.AsyncClient, query: str, field: str
) -> None:
    assert_invalid(await client.get(f"/api/events?{query}"), field)


# path, a valid body with one string field carrying the marker, that field, organizer token
BODIES = [
    ("/clientes", {"nome": "@", "email": "ana@example.com", "cpf": "52998224725"}, "nome", False),
    ("/eventos", EVENTO | {"nome": "@"}, "nome", False),
    ("/api/customers", {"name": "@", "email": "ana@example.com", "password": "long enough"}, "name", False),
    ("/api/sessions", {"email": "@", "password": "long enough"}, "email", False),
    ("/api/events", EVENT | {"name": "@"}, "name", True),
    ("/api/events", EVENT | {"venue": "@"}, "venue", True),
]
IDS = [f"{path}:{field}" for path, _, field, _ in BODIES]


Case = tuple[str, dict[str, object], str, bool]


async def _post_marked(
    client: httpx.AsyncClient, organizer: dict[str, str], case: Case, marker: bytes
) -> httpx.Response:
    """POST the case's body as JSON, its "@" string replaced by `marker` (raw bytes)."""
    path, body, _, admin = case
    raw = httpx.Request("POST", "/", json=body).content.replace(b'"@"', b'"a' + marker + b'b"')
    headers = {"content-type": "application/json"} | (organizer if admin else {})
    return await client.post(path, content=raw, headers=headers)


@pytest.mark.parametrize("case", BODIES, ids=IDS)
async def test_invalid_utf8_inside_a_json_string(
    res: Resources, client: httpx.AsyncClient, organizer: dict[str, str], case: Case
) -> None:
    before = await row_counts(res)
    for marker in (b"\xff", b"\xc3", b"\xed\xa0\x80"):  # bad start, truncated, a UTF-8 surrogate
        assert_invalid(await _post_marked(client, organizer, case, marker), None)
    assert await row_counts(res) == before


@pytest.mark.parametrize("case", BODIES, ids=IDS)
async def test_nul_byte_in_a_text_field(
    res: Resources, client: httpx.AsyncClient, organizer: dict[str, str], case: Case
) -> None:
    before = await row_counts(res)
    assert_invalid(await _post_marked(client, organizer, case, b"\\u0000"), case[2])
    assert await row_counts(res) == before


async def test_nul_byte_in_the_login_email_and_password(res: Resources, client: httpx.AsyncClient) -> None:
    r = await client.post("/api/sessions", json={"email": "a\x00@example.com", "password": "long enough"})
    assert_invalid(r, "email")
    r = await client.post("/api/sessions", json={"email": "a@example.com", "password": "long\x00enough"})
    assert_invalid(r, "password")


async def test_nul_byte_in_the_seats_section_filter(
    res: Resources, client: httpx.AsyncClient, organizer: dict[str, str]
) -> None:
    body = {
        "name": "Seated",
        "starts_at": "2027-01-01T00:00:00Z",
        "sections": [{"name": "A", "price_cents": 100, "rows": 1, "seats_per_row": 2}],
    }
    created = await client.post("/api/events", json=body, headers=organizer)
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    assert_invalid(await client.get(f"/api/events/{event_id}/seats?section=A%00"), "section")
    assert (await client.get(f"/api/events/{event_id}/seats?section=A")).status_code == 200
