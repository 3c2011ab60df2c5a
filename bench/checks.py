"""Correctness queries the scenarios share, read from PostgreSQL after a run."""

from __future__ import annotations

import asyncpg

from bench.report import Report


async def repeated(pg: asyncpg.Connection, *, table: str, column: str, event_id: str | None = None) -> int:
    """How many values of `column` appear more than once in `table` (of one event, or all);
    `table` and `column` are this package's constants, never input."""
    where = "WHERE event_id = $1" if event_id else ""
    sql = f"SELECT count(*) FROM (SELECT {column} FROM {table} {where} GROUP BY 1 HAVING count(*) > 1) d"  # noqa: S608
    value = await (pg.fetchval(sql, event_id) if event_id else pg.fetchval(sql))
    return int(value)


async def ticket_counts(pg: asyncpg.Connection, event_id: str) -> tuple[int, int]:
    """(sold, held) tickets of an event: BOOKED and IN_PROGRESS rows."""
    row = await pg.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'BOOKED') AS sold,
                  count(*) FILTER (WHERE status = 'IN_PROGRESS') AS held
           FROM tickets WHERE event_id = $1""",
        event_id,
    )
    assert row is not None
    return int(row["sold"]), int(row["held"])


async def check_sold_once(report: Report, pg: asyncpg.Connection, event_id: str, *, who: str) -> None:
    """Nobody (`who`) holds two tickets of the event, and no ticket is sold twice."""
    twice = await repeated(pg, table="purchases", column="customer_id", event_id=event_id)
    report.check(f"{who} with more than one ticket", 0, twice)
    report.check("tickets sold twice", 0, await repeated(pg, table="purchases", column="ticket_id"))
