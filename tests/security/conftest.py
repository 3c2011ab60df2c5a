"""Helpers of the abuse tests: settings lowered for one test, tokens, bodies."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.auth import issue_customer_token
from core.config import get_settings

LATER = "2030-01-01T20:00:00Z"


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
