"""Every named query is prepared against the migrated schema, so a typo, a wrong column or
an ambiguous parameter fails here instead of in production."""

from __future__ import annotations

import importlib
import importlib.util

import pytest

from core.db import Queries
from core.resources import Resources
from reservations.queries import Q


def _all_queries() -> list[tuple[str, str, str]]:
    sets: list[tuple[str, Queries]] = [("reservations", Q)]
    if importlib.util.find_spec("waitingroom.queries") is not None:
        module = importlib.import_module("waitingroom.queries")
        sets.append(("waitingroom", module.Q))
    return [(domain, name, sql) for domain, queries in sets for name, sql in queries.items()]


QUERIES = _all_queries()


def test_the_domain_has_queries() -> None:
    names = {name for _, name, _ in QUERIES}
    assert {"insert_event", "claim_any", "list_purchases_page", "list_recent_purchases"} <= names


@pytest.mark.parametrize(("domain", "name", "sql"), QUERIES, ids=[f"{d}.{n}" for d, n, _ in QUERIES])
async def test_query_prepares(res: Resources, domain: str, name: str, sql: str) -> None:
    async with res.pool.acquire() as conn:
        statement = await conn.prepare(sql)
        assert statement.get_query() == sql
