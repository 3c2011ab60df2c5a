"""The public feed of recent purchases."""

from __future__ import annotations

import uuid

import httpx
import pytest

from core.resources import Resources
from reservations.live.service import buyer_label
from tests.factories import make_customer, make_event


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Maria Silva", "Maria S."),
        ("Maria da Silva Santos", "Maria S."),
        ("  joão   pereira ", "joão P."),
        ("Cher", "Cher"),
        ("", "?"),
    ],
)
def test_buyer_label(name: str, label: str) -> None:
    assert buyer_label(name) == label


async def _buy(client: httpx.AsyncClient, cliente: uuid.UUID, evento: uuid.UUID) -> str:
    """A purchase through the challenge face (its clients and events only)."""
    r = await client.post("/compras", json={"cliente_id": str(cliente), "evento_id": str(evento)})
    assert r.status_code == 201
    purchase_id: str = r.json()["id"]
    return purchase_id


async def test_feed_is_newest_first_with_short_buyer_names(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        rock = await make_event(conn, name="Rock", capacity=10, face="challenge")
        jazz = await make_event(conn, name="Jazz", capacity=10, face="challenge")
        maria = await make_customer(conn, name="Maria Souza", face="challenge")
        ana = await make_customer(conn, name="Ana Beatriz Lima", face="challenge")
    first = await _buy(client, maria, rock)
    second = await _buy(client, ana, jazz)

    r = await client.get("/api/purchases")
    assert r.status_code == 200
    feed = r.json()
    assert [p["id"] for p in feed] == [second, first]
    assert feed[0] | {"at": "x"} == {
        "id": second,
        "event_id": str(jazz),
        "event_name": "Jazz",
        "buyer": "Ana L.",
        "at": "x",
    }
    assert feed[1]["buyer"] == "Maria S."
    assert "Souza" not in r.text  # never the full name

    only_rock = (await client.get(f"/api/purchases?event_id={rock}")).json()
    assert [p["id"] for p in only_rock] == [first]


async def test_feed_limit(res: Resources, client: httpx.AsyncClient) -> None:
    async with res.pool.acquire() as conn:
        eid = await make_event(conn, capacity=30, face="challenge")
        buyers = [await make_customer(conn, face="challenge") for _ in range(25)]
    for b in buyers:
        await _buy(client, b, eid)
    assert len((await client.get("/api/purchases")).json()) == 20
    assert len((await client.get("/api/purchases?limit=3")).json()) == 3
    assert len((await client.get("/api/purchases?limit=100")).json()) == 25


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("event_id=42", "event_id")],
)
async def test_feed_bad_query_is_400(
    res: Resources, client: httpx.AsyncClient, query: str, field: str
) -> None:
    r = await client.get(f"/api/purchases?{query}")
    assert r.status_code == 400
    assert r.json()["field"] == field
