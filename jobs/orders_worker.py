"""The orders worker: `python -m jobs orders`.

One consumer (named host:pid) of the group `deciders` on the Redis Stream `ticket_orders`,
where the order gate appends every accepted order (docs/decisions/0009-orders-on-a-stream.md).
Any number of these processes, on any machines, share the stream:

- **Read in batches.** `XREADGROUP ... COUNT n BLOCK` with n the free places out of
  ORDERS_MAX_JOBS; each entry is decided by `OrderDesk` concurrently with the others, so
  the orders read together reserve in one statement and settle in one transaction.
  Throttling (ORDERS_PER_S) is the desk's shared token bucket.
- **Acknowledge once decided.** `XACK` + `XDEL` after the decision is recorded, with a
  line in the job monitor's list of recent decisions; the entries decided in the same turn
  of the loop are acknowledged together (one MULTI). At least once: an entry whose
  consumer died before the ack is decided again, which finds the order decided (or
  reserved, and resumes it with the same hold and the same payment key).
- **Retry.** A decision that raised `RetryLater` runs again after its delay, up to
  MAX_TRIES tries (then the entry is dropped as a failure and reconcile re-adds the order
  after a minute); an order waiting behind earlier ones of its event (`WaitForEarlier`)
  looks again shortly, without spending a try.
- **Take over.** Every KEEP_EVERY_S the worker re-claims its own entries in flight
  (`XCLAIM ... JUSTID`: their idle time goes back to zero) and takes the entries of other
  consumers idle for CLAIM_IDLE_MS (`XAUTOCLAIM`): a killed worker's orders move to a
  live one within CLAIM_IDLE_MS + KEEP_EVERY_S.
- **Faults.** Redis and PostgreSQL errors are retried with backoff; the worker never exits
  on them. SIGTERM/SIGINT: stop reading, finish what is in flight (up to STOP_GRACE_S),
  exit; entries not finished stay pending and are taken over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field

import msgspec
from prometheus_client import start_http_server
from redis.exceptions import RedisError, ResponseError

from core.config import get_settings
from core.logs import configure_logging
from core.logs import request_id as request_id_var
from core.ops import JOB_SECONDS
from core.queues import ORDERS_GROUP, ORDERS_QUEUE
from core.resources import Resources, open_resources
from core.runtime import settle_heap
from reservations import keys
from reservations.orders.batching import Batcher
from reservations.orders.decisions import RetryLater, WaitForEarlier, WaitForProvider
from reservations.orders.desk import OrderDesk
from reservations.orders.schemas import DecisionRecord

log = logging.getLogger("crowdpass.jobs.orders")

BLOCK_MS = 1000
CLAIM_IDLE_MS = 3000
KEEP_EVERY_S = 0.5
CLAIM_COUNT = 200
MAX_TRIES = 50
STOP_GRACE_S = 30.0
RECENT_KEPT = 50
FAILURES_KEPT = 20
MAX_BACKOFF_S = 5.0
CLEANUP_EVERY_S = 60.0
GONE_AFTER_MS = 3600 * 1000


@dataclass
class Entry:
    id: bytes
    order_id: str
    request_id: str | None
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    @property
    def enqueued_ms(self) -> int:
        return int(self.id.split(b"-")[0])


def _entry(entry_id: bytes, fields: dict[bytes, bytes]) -> Entry | None:
    raw = fields.get(b"order_id", b"").decode()
    try:
        uuid.UUID(raw)
    except ValueError:
        return None
    return Entry(entry_id, raw, fields.get(b"request_id", b"").decode() or None)


class Backoff:
    def __init__(self) -> None:
        self.delay_s = 0.1

    async def sleep(self) -> None:
        await asyncio.sleep(self.delay_s)
        self.delay_s = min(self.delay_s * 2, MAX_BACKOFF_S)

    def reset(self) -> None:
        self.delay_s = 0.1


class OrdersConsumer:
    """One consumer of the `deciders` group; `run()` until `stop()`."""

    def __init__(
        self,
        res: Resources,
        *,
        name: str | None = None,
        max_jobs: int | None = None,
        block_ms: int = BLOCK_MS,
        claim_idle_ms: int = CLAIM_IDLE_MS,
        keep_every_s: float = KEEP_EVERY_S,
        max_tries: int = MAX_TRIES,
    ) -> None:
        self.res = res
        self.redis = res.redis
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.max_jobs = max(1, max_jobs or res.settings.orders_max_jobs)
        self.desk = OrderDesk(res, max_batch=self.max_jobs, name=self.name)
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.keep_every_s = keep_every_s
        self.max_tries = max_tries
        self.timeout_s = res.settings.orders_job_timeout_s
        self._running = asyncio.Event()  # cleared by pause(): entries read are held, not decided
        self._running.set()
        self.inflight: dict[bytes, asyncio.Task[None]] = {}
        self.busy = 0  # entries being decided (not sleeping before a retry)
        self.taken_over = 0  # entries claimed from other consumers
        self._room = asyncio.Event()
        self._stopping = asyncio.Event()
        self._parked = asyncio.Event()  # the reader waits for resume()
        self._acks: Batcher[tuple[bytes, DecisionRecord | None], None]
        self._acks = Batcher(self._ack_batch, max_size=1000)

    def stop(self) -> None:
        self._stopping.set()
        self._running.set()  # a paused worker finishes what it holds, then exits

    async def pause(self) -> None:
        """Stop reading (tests, operators) and hold the entries in flight: nothing is
        decided until resume(). Returns once the reader has stopped."""
        self._running.clear()
        await self._parked.wait()

    def resume(self) -> None:
        self._running.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        await self._ensure_group()
        keeper = asyncio.create_task(self._keep())
        try:
            await self._read()
        finally:
            if self.inflight:
                await asyncio.wait(list(self.inflight.values()), timeout=STOP_GRACE_S)
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            for task in list(self.inflight.values()):
                task.cancel()
            if self.inflight:
                await asyncio.wait(list(self.inflight.values()), timeout=5)
            await self._leave_group()

    async def _leave_group(self) -> None:
        """Leave the group when nothing is pending to us (deleting a consumer drops its
        pending entries, so one with entries stays for the others to take over)."""
        with contextlib.suppress(RedisError, OSError):
            mine = await self.redis.xpending_range(
                ORDERS_QUEUE, ORDERS_GROUP, min="-", max="+", count=1, consumername=self.name
            )
            if not mine:
                await self.redis.xgroup_delconsumer(ORDERS_QUEUE, ORDERS_GROUP, self.name)

    # --- the stream -----------------------------------------------------------------------

    async def _ensure_group(self) -> None:
        backoff = Backoff()
        while not self.stopping:
            try:
                if await self.redis.type(ORDERS_QUEUE) == b"zset":
                    # arq's queue of the same name (before the stream): set aside; reconcile
                    # adds its orders to the stream again (their records have no entry).
                    await self.redis.rename(ORDERS_QUEUE, ORDERS_QUEUE + ":arq")
                await self.redis.xgroup_create(ORDERS_QUEUE, ORDERS_GROUP, id="0", mkstream=True)
                return
            except ResponseError as exc:
                if "BUSYGROUP" in str(exc):
                    return
                log.warning("cannot create the consumer group: %s", exc)
            except (RedisError, OSError) as exc:
                log.warning("Redis unavailable (%s); retrying", exc)
            await backoff.sleep()

    async def _read(self) -> None:
        backoff = Backoff()
        first = True  # our own pending entries (a previous life with our name) come first
        while not self.stopping:
            if not self._running.is_set():
                self._parked.set()
                await self._running.wait()
                self._parked.clear()
                continue
            room = self.max_jobs - self.busy
            if room <= 0:
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await self._room.wait()
                continue
            try:
                reply = await self.redis.xreadgroup(
                    ORDERS_GROUP,
                    self.name,
                    {ORDERS_QUEUE: "0" if first else ">"},
                    count=None if first else room,
                    block=None if first else self.block_ms,
                )
            except ResponseError as exc:
                if "NOGROUP" in str(exc):  # Redis lost the stream: start again
                    await self._ensure_group()
                else:
                    log.warning("reading the stream failed: %s", exc)
                    await backoff.sleep()
                continue
            except (RedisError, OSError) as exc:
                log.warning("Redis unavailable (%s); retrying", exc)
                await backoff.sleep()
                continue
            backoff.reset()
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    if entry_id not in self.inflight and fields:
                        self._start(entry_id, fields)
                    elif not fields:  # deleted while pending to us
                        await self._ack(entry_id)
            first = False

    async def _keep(self) -> None:
        """Keep our entries in flight ours; take over those of consumers that stopped."""
        last_cleanup = time.monotonic()
        while True:
            await asyncio.sleep(self.keep_every_s)
            try:
                mine: list[int | bytes | str | memoryview[int]] = list(self.inflight)
                if mine:
                    await self.redis.xclaim(ORDERS_QUEUE, ORDERS_GROUP, self.name, 0, mine, justid=True)
                if not self.stopping:
                    await self._take_over()
                if time.monotonic() - last_cleanup > CLEANUP_EVERY_S:
                    last_cleanup = time.monotonic()
                    await self._forget_gone_consumers()
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    await self._ensure_group()
                else:
                    log.warning("keeping entries failed: %s", exc)
            except (RedisError, OSError) as exc:
                log.warning("Redis unavailable (%s); retrying", exc)

    async def _take_over(self) -> None:
        for _ in range(10):
            # From the start each time: what was just claimed is ours and no longer idle.
            reply = await self.redis.xautoclaim(
                ORDERS_QUEUE, ORDERS_GROUP, self.name, self.claim_idle_ms, count=CLAIM_COUNT, justid=True
            )
            ids = [i for i in reply if i not in self.inflight]
            if ids:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for entry_id in ids:
                        pipe.xrange(ORDERS_QUEUE, entry_id, entry_id)
                    found = await pipe.execute()
                for entry_id, rows in zip(ids, found, strict=True):
                    if rows:
                        self.taken_over += 1
                        self._start(entry_id, rows[0][1])
                    else:
                        await self._ack(entry_id)
                log.info("took over %d orders from stopped workers", len(ids))
            if len(reply) < CLAIM_COUNT:
                return

    async def _forget_gone_consumers(self) -> None:
        """Remove consumers that stopped long ago and hold nothing (killed workers: their
        entries were taken over), so the group lists the live ones."""
        for c in await self.redis.xinfo_consumers(ORDERS_QUEUE, ORDERS_GROUP):
            if c["pending"] == 0 and c["idle"] > GONE_AFTER_MS and c["name"].decode() != self.name:
                await self.redis.xgroup_delconsumer(ORDERS_QUEUE, ORDERS_GROUP, c["name"])

    # --- one entry ------------------------------------------------------------------------

    def _start(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        entry = _entry(entry_id, fields)
        if entry is None:
            log.error("stream entry %s is not an order; dropped", entry_id.decode())
            task = asyncio.create_task(self._ack(entry_id))
        else:
            self.busy += 1
            task = asyncio.create_task(self._handle(entry))
        self.inflight[entry_id] = task
        task.add_done_callback(lambda _: self.inflight.pop(entry_id, None))

    async def _idle(self, delay_s: float) -> None:
        """Wait before a retry without holding a place: others may be read meanwhile."""
        self.busy -= 1
        self._room.set()
        try:
            await asyncio.sleep(delay_s)
            await self._running.wait()
        finally:
            self.busy += 1

    async def _handle(self, entry: Entry) -> None:
        token = request_id_var.set(entry.request_id)
        tries, waits = 1, 0
        try:
            await self._running.wait()
            while True:
                start = time.perf_counter()
                outcome = "failed"
                try:
                    async with asyncio.timeout(self.timeout_s):
                        await self.desk.decide_order(order_id=uuid.UUID(entry.order_id), job_try=tries)
                    outcome = "succeeded"
                except WaitForEarlier as exc:
                    outcome = "waited"
                    waits += 1
                    await self._idle(min(exc.delay_s * (1 + waits / 10), 1.0))
                    continue
                except WaitForProvider as exc:  # its own backoff and deadline: not a try
                    outcome = "waited"
                    await self._idle(exc.delay_s)
                    continue
                except Exception as exc:
                    outcome = "retried"
                    delay = exc.delay_s if isinstance(exc, RetryLater) else min(0.5 * tries, MAX_BACKOFF_S)
                    if not isinstance(exc, RetryLater):
                        log.exception("deciding the order failed", extra={"order_id": entry.order_id})
                    if tries >= self.max_tries:
                        outcome = "failed"
                        log.error(
                            "order not decided after %d tries; reconcile will add it again",
                            tries,
                            extra={"order_id": entry.order_id},
                        )
                        await self._ack(entry.id, record=self._record(entry, tries, repr(exc)))
                        return
                    log.info("order not decided yet, retrying in %.1fs: %s", delay, exc)
                    tries += 1
                    await self._idle(delay)
                    continue
                finally:
                    if outcome != "waited":
                        JOB_SECONDS.labels(keys.DECIDE_ORDER_JOB, outcome).observe(
                            time.perf_counter() - start
                        )
                await self._ack(entry.id, record=self._record(entry, tries, None))
                return
        finally:
            request_id_var.reset(token)
            self.busy -= 1
            self._room.set()

    def _record(self, entry: Entry, tries: int, error: str | None) -> DecisionRecord:
        return DecisionRecord(
            id=entry.order_id,
            status="failed" if error else "succeeded",
            tries=tries,
            enqueued_ms=entry.enqueued_ms,
            started_ms=entry.started_ms,
            finished_ms=int(time.time() * 1000),
            error=error[:500] if error else None,
        )

    async def _ack(self, entry_id: bytes, *, record: DecisionRecord | None = None) -> None:
        """XACK + XDEL (and the monitor's line), with the other entries finished in the same
        turn of the loop (`_ack_batch`)."""
        await self._acks.submit((entry_id, record))

    async def _ack_batch(self, items: list[tuple[bytes, DecisionRecord | None]]) -> list[None]:
        """One MULTI for the entries finished together: one XACK and one XDEL of all their
        ids, one LPUSH + LTRIM per list of the monitor. Retried a while; if Redis stays away
        the entries stay pending and are decided again later, which only re-announces them."""
        ids = [entry_id for entry_id, _ in items]
        records = [record for _, record in items if record is not None]
        lists = [
            (keys.orders_recent(), RECENT_KEPT, [r for r in records if not r.error]),
            (keys.orders_failures(), FAILURES_KEPT, [r for r in records if r.error]),
        ]
        backoff = Backoff()
        for _ in range(8):
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.xack(ORDERS_QUEUE, ORDERS_GROUP, *ids)
                    pipe.xdel(ORDERS_QUEUE, *ids)
                    for key, kept, rows in lists:
                        if rows:
                            pipe.lpush(key, *(_encode_record(r) for r in rows[-kept:]))
                            pipe.ltrim(key, 0, kept - 1)
                    await pipe.execute()
                break
            except (RedisError, OSError) as exc:
                log.warning("acknowledging %d entries failed (%s); retrying", len(ids), exc)
                await backoff.sleep()
        return [None] * len(items)


_encode_record = msgspec.json.Encoder().encode


async def open_with_retry() -> Resources:
    """Resources once Redis and PostgreSQL answer (a worker started before them waits)."""
    backoff = Backoff()
    while True:
        try:
            return await open_resources(get_settings(), worker=True)
        except Exception as exc:  # any failure to connect: wait and try again
            log.warning("cannot connect yet (%s); retrying", exc)
            await backoff.sleep()


async def serve() -> None:
    from waitingroom.plug import plug_into_reservations

    settings = get_settings()
    configure_logging(json=settings.log_json)
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    plug_into_reservations()
    res = await open_with_retry()
    settle_heap()
    consumer = OrdersConsumer(res)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, consumer.stop)
    log.info("orders worker %s reading %s as group %s", consumer.name, ORDERS_QUEUE, ORDERS_GROUP)
    try:
        await consumer.run()
    finally:
        await res.close()
