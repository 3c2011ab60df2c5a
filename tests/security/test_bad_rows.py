"""Abuse case: one bad row already in the database (an event starting at +/-infinity, as
the API stored before dates were bounded) stops neither the event list nor the reconcile
cron. The row is skipped and reported; every other event is served and repaired."""

from __future__ import annotations

import uuid

import httpx
import pytest

from core.resources import Resources
from reservations import keys
from reservations.orders.reconcile import reconcile
from tests.factories import make_event


async def _break(res: Resources, event_id: uuid.UUID, column: str, value: str) -> None:
    await res.pool.execute(f"UPDATE events SET {column} = '{value}' WHERE id = $1", event_id)  # noqa: S608


@pytest.mark.parametrize(
    ("column", "value"),
    [("starts_at", "infinity"), ("starts_at", "-infinity"), ("sales_open_at", "-infinity")],
)
async def test_event_list_skips_a_bad_row(
    res: Resources, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, column: str, value: str
) -> None:
    async with res.pool.acquire() as conn:
        good = await make_event(conn, name="Good")
        bad = await make_event(conn, name="Bad")
    await _break(res, bad, column, value)
    r = await client.get("/api/events")
    assert r.status_code == 200, r.text
    assert [e["id"] for e in r.json()] == [str(good)]
    assert str(bad) in caplog.text  # reported
    assert (await client.get("/api/events?from=2020-01-01&to=2199-01-01")).status_code == 200


@pytest.mark.parametrize(
    ("column", "value"),
    [("starts_at", "infinity"), ("starts_at", "-infinity"), ("sales_open_at", "infinity")],
)
async def test_reconcile_skips_a_bad_row(res: Resources, column: str, value: str) -> None:
    async with res.pool.acquire() as conn:
        good = await make_event(conn, capacity=2)
        bad = await make_event(conn, capacity=2)
    await _break(res, bad, column, value)
    async with res.pool.acquire() as conn:
        report = await reconcile(conn, res.redis)
    assert report.skipped == [bad]
    assert report.events == 1
    assert (await res.redis.hgetall(keys.event_meta(good)))[b"max_per_customer"] == b"1"
    assert report.check.ok, report.check.violations
