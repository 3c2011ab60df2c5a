"""Script calls of one loop turn travel as one pipeline, each still answered on its own."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from core.realtime import publisher_for
from core.redis import RedisBatcher, Script, batcher_for, create_redis
from core.resources import Resources
from tests.ports import first_free_port

COUNT = Script("count", "return redis.call('INCRBY', KEYS[1], ARGV[1])")
REFUSE_ODD = Script(
    "refuse_odd",
    "if tonumber(ARGV[1]) % 2 == 1 then return redis.error_reply('odd ' .. ARGV[1]) end return ARGV[1]",
)


async def test_calls_of_one_turn_go_as_one_pipeline_in_the_order_made(res: Resources) -> None:
    batcher = RedisBatcher(res.redis)
    results = await asyncio.gather(*(batcher.call(COUNT, ["batch:n"], [1]) for _ in range(300)))
    assert results == list(range(1, 301))
    assert (batcher.batches, batcher.calls) == (1, 300)
    assert int(await res.redis.get("batch:n")) == 300


async def test_calls_in_different_turns_still_go_at_once(res: Resources) -> None:
    batcher = RedisBatcher(res.redis)
    assert [await batcher.call(COUNT, ["batch:m"], [2]) for _ in range(3)] == [2, 4, 6]
    assert batcher.batches == 3


async def test_calls_made_while_a_pipeline_is_out_go_together_next(res: Resources) -> None:
    batcher = RedisBatcher(res.redis)
    first = asyncio.ensure_future(batcher.call(COUNT, ["batch:w"], [1]))
    for _ in range(10):  # a few loop turns until the first pipeline is on its way
        await asyncio.sleep(0)
        if batcher.batches:
            break
    assert batcher.batches == 1
    later = []
    for _ in range(50):  # one call per loop turn, all while the first is out
        later.append(asyncio.ensure_future(batcher.call(COUNT, ["batch:w"], [1])))
        await asyncio.sleep(0)
    assert await first == 1
    assert await asyncio.gather(*later) == list(range(2, 52))
    assert batcher.batches <= 25  # one per call would be 51


async def test_an_error_fails_only_its_own_call(res: Resources) -> None:
    batcher = RedisBatcher(res.redis)
    calls = (batcher.call(REFUSE_ODD, [], [i]) for i in range(6))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [r for r in results if not isinstance(r, Exception)] == [b"0", b"2", b"4"]
    errors = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, ResponseError) for e in errors)
    assert [str(e) for e in errors] == ["odd 1", "odd 3", "odd 5"]


async def test_scripts_are_loaded_again_after_redis_forgets_them(res: Resources) -> None:
    batcher = RedisBatcher(res.redis)
    await batcher.call(COUNT, ["batch:f"], [1])
    await res.redis.script_flush()
    assert await asyncio.gather(*(batcher.call(COUNT, ["batch:f"], [1]) for _ in range(5))) == [2, 3, 4, 5, 6]


async def test_when_redis_cannot_be_reached_every_call_fails() -> None:
    port = first_free_port(range(47000, 47100))
    assert port is not None
    redis = create_redis(f"redis://127.0.0.1:{port}/0")
    batcher = RedisBatcher(redis)
    try:
        calls = (batcher.call(COUNT, ["k"], [1]) for _ in range(4))
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, RedisConnectionError) for r in results), results
    finally:
        await redis.aclose()


@pytest.mark.parametrize("cancelled", [0, 2])
async def test_a_caller_that_goes_away_does_not_stop_the_others(res: Resources, cancelled: int) -> None:
    batcher = RedisBatcher(res.redis)
    calls = [asyncio.ensure_future(batcher.call(COUNT, ["batch:c"], [1])) for _ in range(5)]
    await asyncio.sleep(0)  # every call is made; the pipeline is not sent yet
    for call in calls[:cancelled]:
        call.cancel()
    done = await asyncio.gather(*calls[cancelled:])
    assert len(done) == 5 - cancelled and done == sorted(done) and set(done) <= {1, 2, 3, 4, 5}
    assert int(await res.redis.get("batch:c")) == 5  # a cancelled caller's script still ran


async def test_commands_travel_with_the_script_calls_of_their_turn(res: Resources) -> None:
    batcher = RedisBatcher(res.redis)
    pubsub = res.redis.pubsub()
    await pubsub.subscribe("batch:channel")
    try:
        calls = [batcher.command("PUBLISH", "batch:channel", f"m{i}") for i in range(3)]
        results = await asyncio.gather(
            batcher.call(COUNT, ["batch:p"], [1]), *calls, batcher.command("GET", "batch:p")
        )
        assert results == [1, 1, 1, 1, b"1"]  # each PUBLISH reached one subscriber
        assert batcher.batches == 1
        received = []
        async with asyncio.timeout(5):
            while len(received) < 3:  # None: the subscription's own confirmation, or nothing yet
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    received.append(message["data"])
        assert received == [b"m0", b"m1", b"m2"]
    finally:
        await pubsub.aclose()


async def test_the_publisher_and_the_resources_share_one_batcher_per_client(res: Resources) -> None:
    batcher = batcher_for(res.redis)
    assert res.redis_batch is batcher
    batches, calls = batcher.batches, batcher.calls
    publish = publisher_for(res.redis).publish("batch:none", {"a": 1})
    await asyncio.gather(res.redis_batch.call(COUNT, ["batch:s"], [1]), publish)
    assert (batcher.batches, batcher.calls) == (batches + 1, calls + 2)  # the publish went along
