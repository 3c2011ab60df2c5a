"""Every named query of the waiting room prepares against the migrated schema."""

from __future__ import annotations

from core.resources import Resources
from waitingroom.service.store import Q, S


async def test_every_query_prepares(res: Resources) -> None:
    assert len(Q) >= 2
    async with res.pool.acquire() as conn:
        for name, sql in Q.items():
            statement = await conn.prepare(sql)
            assert statement.get_parameters() is not None, name


async def test_every_script_loads(res: Resources) -> None:
    names = {s.name for s in S.all()}
    assert names >= {"join_queue", "read_visitor", "leave_queue", "advance_queue", "consume_admission"}
    for script in S.all():
        assert await res.redis.script_load(script.source) == script.sha
