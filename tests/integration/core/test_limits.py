"""The rate-limit scripts on real Redis: fixed windows, block markers, growing blocks."""

from __future__ import annotations

from core import limits
from core.limits import Backoff, Limit
from core.resources import Resources


async def test_counters_are_checked_together_and_a_refusal_counts_nowhere(res: Resources) -> None:
    a, b = Limit("t:a", 2, 60), Limit("t:b", 5, 60)
    waits = [await limits.hit_limits(res.redis, [a, b]) for _ in range(4)]
    assert waits[:2] == [0, 0]
    assert 59_000 < waits[2] <= 60_000
    assert await res.redis.get("t:b") == b"2"  # the refused ones were not counted on b


async def test_a_limit_of_zero_is_off(res: Resources) -> None:
    assert [await limits.hit_limits(res.redis, [Limit("t:off", 0, 60)]) for _ in range(3)] == [0, 0, 0]
    assert await res.redis.exists("t:off") == 0


async def test_the_batched_check_is_the_same_check(res: Resources) -> None:
    rule = [Limit("t:batch", 1, 60)]
    assert await limits.hit_limits(res.redis_batch, rule) == 0
    assert await limits.hit_limits(res.redis_batch, rule) > 0


async def test_failures_earn_a_doubling_block_up_to_the_longest(res: Resources) -> None:
    backoff = Backoff(counter="t:fail", block="t:block", after=3, first_s=1, longest_s=5)
    blocks = [await limits.record_failure(res.redis, backoff) for _ in range(7)]
    assert blocks == [0, 0, 1000, 2000, 4000, 5000, 5000]
    wait = await limits.hit_limits(res.redis, [Limit.blocked_while(backoff.block)])
    assert 4000 < wait <= 5000
    await limits.clear_failures(res.redis, backoff)
    assert await limits.hit_limits(res.redis, [Limit.blocked_while(backoff.block)]) == 0
    assert await limits.record_failure(res.redis, backoff) == 0
