"""Background tasks never end silently: an unexpected end is logged, reported and restarted."""

from __future__ import annotations

import asyncio
import itertools
import logging
from functools import partial

import pytest

from linkora_core.tasks import BackgroundTasks
from tests.polling import eventually

_until = partial(eventually, within=5.0, every=0.01)  # the tasks' delays are tenths of seconds


@pytest.mark.parametrize("ending", ["raises", "returns", "is cancelled"])
async def test_a_task_that_ends_unexpectedly_is_logged_reported_and_restarted(
    ending: str, caplog: pytest.LogCaptureFixture
) -> None:
    starts = 0
    first_run = asyncio.Event()

    async def work() -> None:
        nonlocal starts
        starts += 1
        if starts == 1:
            first_run.set()
            await asyncio.sleep(0.05)
            if ending == "raises":
                raise RuntimeError("lost the feed")
            if ending == "returns":
                return
        await asyncio.sleep(3600)

    tasks = BackgroundTasks("test-service", first_delay=0.2)
    tasks.start("feed", work)
    try:
        await first_run.wait()
        if ending == "is cancelled":
            tasks.current("feed").cancel()
        await _until(lambda: tasks.problems())
        assert list(tasks.problems()) == ["feed"]
        assert not tasks.healthy
        await _until(lambda: starts == 2)
        await _until(lambda: tasks.healthy)
        assert tasks.restarts == {"feed": 1}
        assert not tasks.current("feed").done()
    finally:
        await tasks.close()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "test-service: background task feed" in errors[0].getMessage()


async def test_the_delay_grows_while_a_task_keeps_failing() -> None:
    started: list[float] = []
    loop = asyncio.get_running_loop()

    async def work() -> None:
        started.append(loop.time())
        raise OSError("still down")

    tasks = BackgroundTasks("test-service", first_delay=0.05, max_delay=0.2)
    tasks.start("poller", work)
    try:
        await _until(lambda: len(started) >= 5)
    finally:
        await tasks.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(started)]
    assert gaps[0] >= 0.05
    assert gaps[1] >= 0.1
    assert all(gap >= 0.2 for gap in gaps[3:])


async def test_nothing_is_restarted_or_reported_once_the_service_stops() -> None:
    stop = asyncio.Event()
    runs = 0

    async def work() -> None:
        nonlocal runs
        runs += 1
        await stop.wait()

    tasks = BackgroundTasks("test-service", stop=stop, first_delay=0.01)
    tasks.start("flush", work)
    await _until(lambda: runs == 1)
    stop.set()
    await asyncio.sleep(0.1)
    assert runs == 1
    assert tasks.healthy
    await tasks.close()


async def test_close_cancels_running_tasks() -> None:
    tasks = BackgroundTasks("test-service")
    tasks.start("forever", lambda: asyncio.sleep(3600))
    await asyncio.sleep(0)
    running = tasks.current("forever")
    await tasks.close()
    assert running.cancelled()
    assert tasks.healthy


@pytest.mark.parametrize("stop", ["close", "end"])
async def test_a_task_that_swallows_its_cancellation_is_cancelled_again(
    stop: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # What redis-py 8's pipeline execute() sometimes did: the CancelledError never came out,
    # and the task went on waiting for work that would never come.
    monkeypatch.setattr("linkora_core.tasks.CANCEL_AGAIN", 0.05)
    swallowed = asyncio.Event()

    async def work() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.set()
        await asyncio.Event().wait()

    tasks = BackgroundTasks("test-service")
    tasks.start("publisher", work)
    await asyncio.sleep(0.01)
    run = tasks.current("publisher")
    async with asyncio.timeout(2):
        await (tasks.close() if stop == "close" else tasks.end("publisher"))
    assert swallowed.is_set() and run.cancelled()
    assert "task publisher ignored its cancellation" in caplog.text


async def test_an_ended_task_is_stopped_for_good_and_its_name_free_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[str] = []

    async def work(label: str) -> None:
        runs.append(label)
        await asyncio.sleep(3600)

    tasks = BackgroundTasks("test-service", first_delay=0.01)
    tasks.start("stream", lambda: work("old"))
    tasks.start("other", lambda: work("other"))
    try:
        await _until(lambda: len(runs) == 2)
        old = tasks.current("stream")
        await tasks.end("stream")
        assert old.cancelled()
        assert set(tasks.restarts) == {"other"} and tasks.healthy
        with pytest.raises(KeyError):
            tasks.current("stream")
        tasks.start("stream", lambda: work("new"))
        await _until(lambda: runs.count("new") == 1)
        assert runs.count("old") == 1  # the ended one was not restarted
        assert not tasks.current("other").done()
        with pytest.raises(KeyError):
            await tasks.end("never-started")
    finally:
        await tasks.close()
    assert not [r for r in caplog.records if r.levelno == logging.ERROR]


async def test_ending_a_task_waiting_to_restart_clears_its_problem() -> None:
    async def work() -> None:
        raise RuntimeError("broken")

    tasks = BackgroundTasks("test-service", first_delay=60.0, max_delay=60.0)
    tasks.start("broken", work)
    try:
        await _until(lambda: tasks.problems())
        await tasks.end("broken")
        assert tasks.healthy and tasks.restarts == {}
    finally:
        await tasks.close()


async def test_end_cancelled_while_waiting_still_forgets_the_task_so_it_can_start_again() -> None:
    # A task slow to end, so the caller of `end` is cancelled while it waits (review item 1).
    ending, runs = asyncio.Event(), 0

    async def slow_to_end() -> None:
        nonlocal runs
        runs += 1
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            ending.set()
            await asyncio.sleep(0.2)
            raise

    tasks = BackgroundTasks("test-service")
    tasks.start("stream", slow_to_end)
    try:
        await _until(lambda: runs == 1)
        ender = asyncio.create_task(tasks.end("stream"))
        await ending.wait()
        ender.cancel()
        with pytest.raises(asyncio.CancelledError):
            await ender
        assert "stream" not in tasks.restarts and tasks.healthy
        tasks.start("stream", slow_to_end)  # no "already started"
        await _until(lambda: runs == 2)
    finally:
        await tasks.close()
