"""The Redis client ends a task cancelled in the middle of a pipeline, as asyncio requires.

redis-py 8.0 and 8.1 sometimes swallowed the CancelledError of a pipeline `execute()`: the
collector's publisher then went on waiting for messages at shutdown, and the collector never
exited after SIGTERM (2 of 8 runs of test_runtime_control). pyproject.toml keeps redis below 8;
this test fails on a version with the fault (it found it within 2,000 cancellations each time)."""

from __future__ import annotations

import asyncio
import random

from redis.asyncio import Redis

CANCELLATIONS = 2000


async def _publish_forever(redis: Redis) -> None:
    while True:
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(50):
                pipe.publish("linkora-test-cancellation", b"x" * 200)
            await pipe.execute()


async def test_a_task_cancelled_mid_pipeline_always_ends(redis_url: str) -> None:
    draw = random.Random(20261204)
    redis = Redis.from_url(redis_url)
    ended = 0
    try:
        for _ in range(CANCELLATIONS):
            task = asyncio.create_task(_publish_forever(redis))
            await asyncio.sleep(draw.random() * 0.003)  # anywhere in a send or a reply
            task.cancel()
            if not (await asyncio.wait([task], timeout=1.0))[0]:
                break
            ended += 1
    finally:
        await redis.connection_pool.disconnect()  # a stuck task's connection too
    assert ended == CANCELLATIONS, f"cancellation {ended + 1} was swallowed: {task!r}"
