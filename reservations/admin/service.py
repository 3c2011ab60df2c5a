"""The job monitor (`GET /api/admin/jobs`): arq's own records and the orders stream in
Redis, read as they are.

- The orders stream `ticket_orders` (`stream_stats`): its length, the entries read and not
  acknowledged by the group's consumers (per consumer, and the oldest one's age), and
  the age of the oldest entry no worker has read. The orders workers keep their latest
  decisions (and those they gave up on) in two capped lists, listed with arq's results.

- Queues: arq keeps a queue as a sorted set of job ids scored by the time they may start;
  a job stays in it while it runs, with an `arq:in-progress:<id>` key. The running ones are
  the oldest, so the first IN_PROGRESS_SCAN ids are checked for that key.
- Results: arq keeps each finished job's result under `arq:result:<id>` for `keep_result`
  seconds (cron runs too, when their `keep_result` is set). Up to RESULT_SCAN_LIMIT of them
  are read and sorted by finish time.
- From PostgreSQL: active holds and the soonest to expire, and the last invariant check.
- Payments: each orders worker's circuit breaker (`keys.payments_breakers()`, written when
  its state changes), the orders waiting for the provider and the first one's deadline
  (`keys.orders_waiting_payment()`), and the settings that govern the wait.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import msgspec
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, result_key_prefix
from arq.jobs import DeserializationError, JobResult, deserialize_result
from redis.exceptions import ResponseError

from core import queues
from core.config import get_settings
from core.db import Connection, queries_beside
from reservations import keys
from reservations.admin.schemas import (
    ConsumerStats,
    CronRuns,
    ExpiringHold,
    HoldsNow,
    JobRun,
    JobsOverview,
    LastInvariantCheck,
    PaymentCircuit,
    PaymentsStatus,
    QueueStats,
)
from reservations.orders.reconcile import invariant_check_from_row
from reservations.orders.schemas import DecisionRecord

Q = queries_beside(__file__)


IN_PROGRESS_SCAN = 500
RESULT_SCAN_LIMIT = 5000
RECENT = 50
FAILURES = 20
EXPIRING_WITHIN_S = 60
EXPIRING_LISTED = 20
CRON_PREFIX = "cron:"


async def queue_stats(redis: ArqRedis, *, name: str) -> QueueStats:
    now_ms = time.time() * 1000
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(name)
        pipe.zcount(name, f"({now_ms}", "+inf")
        pipe.zrange(name, 0, IN_PROGRESS_SCAN - 1, withscores=True)
        total, deferred, head = await pipe.execute()
    running: set[bytes] = set()
    if head:
        async with redis.pipeline(transaction=False) as pipe:
            for job_id, _ in head:
                pipe.exists(in_progress_key_prefix + job_id.decode())
            flags = await pipe.execute()
        running = {job_id for (job_id, _), flag in zip(head, flags, strict=True) if flag}
    waiting = [score for job_id, score in head if job_id not in running and score <= now_ms]
    oldest = round((now_ms - min(waiting)) / 1000, 3) if waiting else None
    return QueueStats(
        name=name,
        queued=total - len(running) - deferred,
        deferred=deferred,
        in_progress=len(running),
        oldest_queued_s=oldest,
    )


def _age_s(entry_id: bytes | None, now_ms: float) -> float | None:
    if not entry_id:
        return None
    return round(max(0.0, now_ms - int(entry_id.split(b"-")[0])) / 1000, 3)


async def stream_stats(redis: ArqRedis, *, name: str, group: str) -> QueueStats:
    now_ms = time.time() * 1000
    length = await redis.xlen(name)
    try:
        pending = await redis.xpending(name, group)
        info = next(g for g in await redis.xinfo_groups(name) if g["name"].decode() == group)
        members = await redis.xinfo_consumers(name, group)
    except (ResponseError, StopIteration):  # no stream or no group yet: nothing was read
        first = await redis.xrange(name, count=1)
        return QueueStats(
            name=name,
            queued=length,
            deferred=0,
            in_progress=0,
            oldest_queued_s=_age_s(first[0][0] if first else None, now_ms),
            kind="stream",
            consumers=[],
        )
    last = info["last-delivered-id"].decode()
    unread = await redis.xrange(name, min=f"({last}", count=1)
    return QueueStats(
        name=name,
        queued=max(0, length - pending["pending"]),
        deferred=0,
        in_progress=pending["pending"],
        oldest_queued_s=_age_s(unread[0][0] if unread else None, now_ms),
        kind="stream",
        oldest_pending_s=_age_s(pending["min"], now_ms),
        consumers=[
            ConsumerStats(name=c["name"].decode(), pending=c["pending"], idle_s=round(c["idle"] / 1000, 3))
            for c in members
        ],
    )


async def _decisions(redis: ArqRedis, key: str) -> list[JobRun]:
    runs = []
    for raw in await redis.lrange(key, 0, -1):  # type: ignore[misc]
        try:
            d = msgspec.json.decode(raw, type=DecisionRecord)
        except msgspec.ValidationError:
            continue
        runs.append(_decision_run(d))
    return runs


def _at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _decision_run(d: DecisionRecord) -> JobRun:
    return JobRun(
        id=d.id,
        function=keys.DECIDE_ORDER_JOB,
        queue=queues.ORDERS_QUEUE,
        status=d.status,
        tries=d.tries,
        enqueued_at=_at(d.enqueued_ms),
        started_at=_at(d.started_ms),
        finished_at=_at(d.finished_ms),
        wait_s=round(max(0, d.started_ms - d.enqueued_ms) / 1000, 3),
        run_s=round(max(0, d.finished_ms - d.started_ms) / 1000, 3),
        error=d.error,
    )


async def _results(redis: ArqRedis) -> list[JobResult]:
    found: list[bytes] = []
    async for key in redis.scan_iter(match=result_key_prefix + "*", count=1000):
        found.append(key)
        if len(found) >= RESULT_SCAN_LIMIT:
            break
    results: list[JobResult] = []
    for start in range(0, len(found), 500):
        for raw in await redis.mget(found[start : start + 500]):
            if raw is None:
                continue  # expired between the scan and the read
            try:
                results.append(deserialize_result(raw))
            except DeserializationError:
                continue
    results.sort(key=lambda r: r.finish_time, reverse=True)
    return results


def _job_run(r: JobResult) -> JobRun:
    return JobRun(
        id=r.job_id or "",
        function=r.function,
        queue=r.queue_name,
        status="succeeded" if r.success else "failed",
        tries=r.job_try,
        enqueued_at=r.enqueue_time,
        started_at=r.start_time,
        finished_at=r.finish_time,
        wait_s=round(max(0.0, (r.start_time - r.enqueue_time).total_seconds()), 3),
        run_s=round(max(0.0, (r.finish_time - r.start_time).total_seconds()), 3),
        error=None if r.success else f"{type(r.result).__name__}: {r.result}"[:500],
    )


def _crons(results: list[JobResult]) -> list[CronRuns]:
    by_name: dict[str, list[JobResult]] = {}
    for r in results:
        if r.function.startswith(CRON_PREFIX):
            by_name.setdefault(r.function, []).append(r)
    crons = []
    for name, runs in sorted(by_name.items()):
        last = runs[0]
        crons.append(
            CronRuns(
                name=name,
                runs=len(runs),
                failures=sum(1 for r in runs if not r.success),
                last=_job_run(last),
            )
        )
    return crons


async def jobs_overview(conn: Connection, redis: ArqRedis) -> JobsOverview:
    depths = [
        await stream_stats(redis, name=queues.ORDERS_QUEUE, group=queues.ORDERS_GROUP),
        await queue_stats(redis, name=queues.DEFAULT_QUEUE),
    ]
    results = await _results(redis)
    jobs = [_job_run(r) for r in results if not r.function.startswith(CRON_PREFIX)]
    recent = sorted(
        [*jobs, *await _decisions(redis, keys.orders_recent())], key=lambda j: j.finished_at, reverse=True
    )
    failures = sorted(
        [
            *(_job_run(r) for r in results if not r.success),
            *await _decisions(redis, keys.orders_failures()),
        ],
        key=lambda j: j.finished_at,
        reverse=True,
    )
    holds_row = await conn.fetchrow(Q.count_active_holds, EXPIRING_WITHIN_S)
    soonest = await conn.fetch(Q.soonest_expiring_holds, EXPIRING_LISTED)
    check_row = await conn.fetchrow(Q.last_invariant_check)
    check = invariant_check_from_row(check_row) if check_row else None
    return JobsOverview(
        generated_at=dt.datetime.now(dt.UTC),
        queues=depths,
        orders_undecided=await redis.zcard(keys.orders_pending()),
        recent=recent[:RECENT],
        failures=failures[:FAILURES],
        results_scanned=len(results),
        crons=_crons(results),
        holds=HoldsNow(
            active=holds_row["active"],
            expiring_within_60s=holds_row["expiring"],
            soonest=[_hold(h) for h in soonest],
        ),
        last_invariant_check=(
            LastInvariantCheck(
                checked_at=check.checked_at, ok=check.ok, events=check.events, violations=check.violations
            )
            if check
            else None
        ),
        payments=await payments_status(redis),
    )


CIRCUITS_LISTED = 20


class _Circuit(msgspec.Struct, frozen=True):
    state: str
    since: float
    failures: int
    opened: int


async def payments_status(redis: ArqRedis) -> PaymentsStatus:
    settings = get_settings()
    circuits = []
    raw: dict[bytes, bytes] = await redis.hgetall(keys.payments_breakers())  # type: ignore[misc]
    for process, value in raw.items():
        try:
            c = msgspec.json.decode(value, type=_Circuit)
        except msgspec.DecodeError:
            continue
        since = dt.datetime.fromtimestamp(c.since, dt.UTC)
        circuits.append(
            PaymentCircuit(
                process=process.decode(), state=c.state, since=since, failures=c.failures, opened=c.opened
            )
        )
    circuits.sort(key=lambda c: c.since, reverse=True)
    first = await redis.zrange(keys.orders_waiting_payment(), 0, 0, withscores=True)
    return PaymentsStatus(
        deadline_s=settings.payments_deadline_s,
        backoff_max_s=settings.payments_backoff_max_s,
        breaker_failures=settings.payments_breaker_failures,
        breaker_cooldown_s=settings.payments_breaker_cooldown_s,
        circuits=circuits[:CIRCUITS_LISTED],
        orders_waiting=await redis.zcard(keys.orders_waiting_payment()),
        next_deadline=dt.datetime.fromtimestamp(first[0][1] / 1000, dt.UTC) if first else None,
    )


def _hold(h: Any) -> ExpiringHold:
    return ExpiringHold(
        id=h["id"],
        event_id=h["event_id"],
        customer_id=h["customer_id"],
        quantity=h["quantity"],
        expires_at=h["expires_at"],
        seconds_left=round(h["seconds_left"], 1),
    )
