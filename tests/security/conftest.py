"""Helpers of the abuse-case tests: the tables a request may write, and the error shape."""

from __future__ import annotations

import httpx
import pytest

from core.config import Settings
from core.resources import Resources

TABLES = ("customers", "events", "sections", "tickets", "purchases", "allowances", "holds", "waiting_rooms")


async def row_counts(res: Resources) -> dict[str, int]:
    return {t: await res.pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}  # noqa: S608


def assert_invalid(r: httpx.Response, field: str | None) -> None:
    """A 400 `invalid_input` naming `field` (any field when None)."""
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "invalid_input", body
    assert body["detail"]
    if field is not None:
        assert body.get("field") == field, body


@pytest.fixture
def organizer(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_token}"}
