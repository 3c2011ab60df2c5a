"""The order pipeline's pure pieces (no I/O): group commit, names, fingerprints, wiring."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from core.errors import BadRequest
from core.queues import ORDERS_QUEUE
from reservations.live.service import buyer_label
from reservations.orders.batching import Batcher
from reservations.orders.schemas import OrderCreate
from reservations.orders.service import check_idempotency_key, fingerprint


async def test_items_arriving_during_a_batch_form_the_next_one() -> None:
    seen: list[list[int]] = []
    gate = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        seen.append(items)
        if len(seen) == 1:
            await gate.wait()
        return [i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(run, max_size=3)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(batcher.submit(i)) for i in range(2, 7)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await first == 10
    assert [await t for t in rest] == [20, 30, 40, 50, 60]
    assert seen == [[1], [2, 3, 4], [5, 6]]
    assert batcher.batches == 3 and batcher.items == 6


async def test_a_burst_waits_with_one_task_and_goes_in_batches_of_max_size() -> None:
    seen: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        seen.append(items)
        await asyncio.sleep(0.01)
        return [-i for i in items]

    batcher: Batcher[int, int] = Batcher(run, max_size=40)
    burst = [asyncio.create_task(batcher.submit(i)) for i in range(100)]
    await asyncio.sleep(0)  # every submit has run once
    assert len(batcher._tasks) == 1  # one drain for the hundred, not one each
    assert [await t for t in burst] == [-i for i in range(100)]
    assert seen == [list(range(40)), list(range(40, 80)), list(range(80, 100))]
    assert await batcher.submit(7) == -7  # and the next one alone, at once
    assert seen[-1] == [7]


async def test_a_failed_batch_fails_each_of_its_items() -> None:
    async def run(items: list[int]) -> list[int]:
        raise RuntimeError("database gone")

    batcher: Batcher[int, int] = Batcher(run)
    results = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


def test_buyer_is_shown_as_first_name_and_initial() -> None:
    assert buyer_label("Maria da Silva") == "Maria S."
    assert buyer_label("  joão   pereira ") == "joão P."
    assert buyer_label("Cher") == "Cher"


def test_idempotency_keys_are_visible_ascii_up_to_255() -> None:
    assert check_idempotency_key("a" * 255) == "a" * 255
    for bad in (None, "", "a" * 256, "with space", "tab\t", "é"):
        with pytest.raises(BadRequest):
            check_idempotency_key(bad)


def test_the_fingerprint_is_of_the_decoded_body() -> None:
    event_id = uuid.uuid4()
    a = OrderCreate(event_id=event_id, payment_method="pm_card_visa")
    b = OrderCreate(event_id=event_id, payment_method="pm_card_visa", quantity=1)
    c = OrderCreate(event_id=event_id, payment_method="pm_card_visa", quantity=2)
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_the_worker_runs_the_order_tasks() -> None:
    from jobs.worker import WorkerSettings

    assert ORDERS_QUEUE == "ticket_orders"
    assert "orders.decide" not in {f.name for f in WorkerSettings.functions}  # the stream's, not arq's
    push = next(f for f in WorkerSettings.functions if f.name == "live.push_stock")
    assert push.keep_result_s == 0  # its per-event job id can be used again at once
    crons = {c.name: c for c in WorkerSettings.cron_jobs}
    assert crons["cron:orders.reconcile"].keep_result_s == 3600
