"""Bodies of the organizer's operations endpoints (`GET /api/admin/jobs`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from core.schemas import Out


class ConsumerStats(Out, frozen=True):
    name: str  # host:pid of an orders worker
    pending: int  # entries it read and has not acknowledged
    idle_s: float  # since it last read or claimed


class QueueStats(Out, frozen=True):
    name: str
    queued: int  # ready to start, not started (stream: not read by any worker yet)
    deferred: int  # scheduled for later (retries, delayed jobs; always 0 for the stream)
    in_progress: int  # stream: read and not acknowledged (being decided, or waiting to retry)
    oldest_queued_s: float | None  # how long the oldest ready job has waited
    kind: str = "arq"  # arq | stream
    oldest_pending_s: float | None = None  # stream: the oldest entry read and not acknowledged
    consumers: list[ConsumerStats] | None = None  # stream: the orders workers of the group


class JobRun(Out, frozen=True):
    id: str
    function: str
    queue: str
    status: str  # succeeded | failed
    tries: int
    enqueued_at: dt.datetime
    started_at: dt.datetime
    finished_at: dt.datetime
    wait_s: float
    run_s: float
    error: str | None


class CronRuns(Out, frozen=True):
    name: str
    runs: int  # kept results of this cron
    failures: int
    last: JobRun


class ExpiringHold(Out, frozen=True):
    id: uuid.UUID
    event_id: uuid.UUID
    customer_id: uuid.UUID
    quantity: int
    expires_at: dt.datetime
    seconds_left: float


class HoldsNow(Out, frozen=True):
    active: int
    expiring_within_60s: int
    soonest: list[ExpiringHold]


class LastInvariantCheck(Out, frozen=True):
    checked_at: dt.datetime
    ok: bool
    events: int
    violations: list[dict[str, Any]]


class PaymentCircuit(Out, frozen=True):
    process: str  # host:pid of an orders worker
    state: str  # closed | open | half_open
    since: dt.datetime  # its last change of state
    failures: int  # calls in a row without an answer
    opened: int  # times it opened since the process started


class PaymentsStatus(Out, frozen=True):
    """The payment provider as the orders workers see it, and what the organizer's orders
    do while it is away: wait, keeping their tickets, up to `deadline_s` after acceptance."""

    deadline_s: float  # PAYMENTS_DEADLINE_S
    backoff_max_s: float  # PAYMENTS_BACKOFF_MAX_S
    breaker_failures: int  # PAYMENTS_BREAKER_FAILURES
    breaker_cooldown_s: float  # PAYMENTS_BREAKER_COOLDOWN_S
    circuits: list[PaymentCircuit]  # the latest change first
    orders_waiting: int  # reserved orders waiting for the provider now
    next_deadline: dt.datetime | None  # the first of them to be rejected if it stays away


class JobsOverview(Out, frozen=True):
    generated_at: dt.datetime
    queues: list[QueueStats]
    orders_undecided: int  # accepted orders not decided yet
    recent: list[JobRun]
    failures: list[JobRun]
    results_scanned: int
    crons: list[CronRuns]
    holds: HoldsNow
    last_invariant_check: LastInvariantCheck | None
    payments: PaymentsStatus | None = None
