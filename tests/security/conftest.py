"""Helpers of the abuse-case tests: settings lowered for one test, tokens, the tables a
request may write, and the error shape."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from core.auth import issue_customer_token
from core.config import Settings, get_settings
from core.resources import Resources

LATER = "2030-01-01T20:00:00Z"
TABLES = ("customers", "events", "sections", "tickets", "purchases", "allowances", "holds", "waiting_rooms")


@pytest.fixture
def setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """`setting(ORDER_LIMIT_PER_CUSTOMER=3)`: these environment variables for this test,
    read by the code under test at once (settings are read again); restored afterwards."""

    def set_env(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def customer_auth(customer_id: uuid.UUID) -> dict[str, str]:
    return bearer(issue_customer_token(customer_id))


def admin_auth() -> dict[str, str]:
    return bearer(get_settings().admin_token)


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
