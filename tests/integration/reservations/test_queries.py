"""Every named query is prepared against the migrated schema, so a typo, a wrong column or
an ambiguous parameter fails here instead of in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.db import load_queries
from core.resources import Resources
from reservations.inventory.service import Q
from tests.factories import make_event

ROOT = Path(__file__).resolve().parents[3]


def _all_queries() -> list[tuple[str, str, str]]:
    """Every `queries.sql` of every package, each block by its name."""
    files = sorted(p for pkg in ("reservations", "waitingroom") for p in (ROOT / pkg).rglob("queries.sql"))
    return [
        (str(path.parent.relative_to(ROOT)), name, sql)
        for path in files
        for name, sql in load_queries(path).items()
    ]


QUERIES = _all_queries()


def test_the_domain_has_queries() -> None:
    names = {name for _, name, _ in QUERIES}
    assert {"insert_event", "claim_any", "list_purchases_page", "list_recent_purchases"} <= names


@pytest.mark.parametrize(("domain", "name", "sql"), QUERIES, ids=[f"{d}.{n}" for d, n, _ in QUERIES])
async def test_query_prepares(res: Resources, domain: str, name: str, sql: str) -> None:
    async with res.pool.acquire() as conn:
        statement = await conn.prepare(sql)
        assert statement.get_query() == sql


@pytest.mark.parametrize("section", [None, "B"])
async def test_a_claim_walks_the_available_index_without_sorting(res: Resources, section: str | None) -> None:
    """A claim must not sort every ticket still on sale: at 50,000 tickets that cost 23 ms per
    claim and made the order worker slower the bigger the sale."""
    sections = [{"name": name, "price_cents": 5000, "rows": 50, "seats_per_row": 100} for name in "AB"]
    async with res.pool.acquire() as conn:
        event_id = await make_event(conn, sections=sections)
        await conn.execute("ANALYZE tickets")
        for mode in ("force_custom_plan", "force_generic_plan"):
            async with conn.transaction():
                await conn.execute(f"SET LOCAL plan_cache_mode = {mode}")
                statement = await conn.prepare(f"EXPLAIN (FORMAT JSON) {Q.claim_any}")
                for _ in range(6):  # a generic plan is considered from the sixth execution
                    plan = await statement.fetchval(event_id, 10, section)
                assert '"Sort"' not in plan, (mode, plan)
                assert "tickets_available" in plan, (mode, plan)
