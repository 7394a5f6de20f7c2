"""A service's long-running background tasks, none of which may end silently.

A task that ends while the service is not stopping (`stop` unset; it raised, returned, or
was cancelled from outside) is logged with its traceback, reported by `problems()` so the
service answers not ready, and started again after a delay that grows from `first_delay` to
`max_delay` while it keeps failing (a wait that `stop` ends). `end(name)` stops one task for
good (its name may be started again); shutdown (`close()`) cancels every task and waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from linkora_core.backoff import Backoff, pause

log = logging.getLogger(__name__)

Work = Callable[[], Coroutine[Any, Any, None]]

# A run that lasted this long counts as healthy: the next failure starts from `first_delay`.
HEALTHY_RUN = 60.0
# A task still running this long after its cancellation is cancelled again: one that swallowed
# the CancelledError (a library bug; redis-py 8's pipelines did) must not hold a stop for ever.
CANCEL_AGAIN = 1.0


@dataclass(eq=False)
class BackgroundTasks:
    """Named background tasks, restarted when they end unexpectedly."""

    service: str
    _: KW_ONLY
    stop: asyncio.Event | None = None
    first_delay: float = 0.5
    max_delay: float = 15.0
    restarts: dict[str, int] = field(default_factory=dict, init=False)
    _runs: dict[str, asyncio.Task[None]] = field(default_factory=dict, init=False, repr=False)
    _runners: dict[str, asyncio.Task[None]] = field(default_factory=dict, init=False, repr=False)
    _problems: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _closing: bool = field(default=False, init=False, repr=False)

    def start(self, name: str, work: Work) -> None:
        """Run `work()` as task `name` until `close()`, restarting it whenever it ends."""
        if name in self.restarts:
            raise ValueError(f"task {name!r} is already started")
        self.restarts[name] = 0
        # A restart follows a bug in one task, not an outage many clients retry against
        # together, so its delay is exact (no jitter).
        backoff = Backoff(first=self.first_delay, cap=self.max_delay, jitter=0)
        keeper = self._keep(name, work, backoff)
        self._runners[name] = asyncio.create_task(keeper, name=f"{name}-keeper")

    async def end(self, name: str) -> None:
        """Cancel task `name` and wait until it has ended; it is not started again, and is
        no longer reported (KeyError for a name not started)."""
        runner = self._runners.pop(name)
        runner.cancel()
        try:
            # wait(), not await: the caller's own cancellation must still reach the caller.
            await asyncio.wait([runner])
        finally:
            # Even when the caller is cancelled meanwhile: the runner is cancelled already,
            # and a name left behind could never be started again.
            del self.restarts[name]
            self._runs.pop(name, None)
            self._problems.pop(name, None)

    def problems(self) -> dict[str, str]:
        """Tasks that ended unexpectedly and are waiting to be started again, with why."""
        return dict(self._problems)

    @property
    def healthy(self) -> bool:
        return not self._problems

    def current(self, name: str) -> asyncio.Task[None]:
        """The running task `name` (tests cancel it to see it come back)."""
        return self._runs[name]

    async def close(self) -> None:
        """Cancel every task and wait until each has ended."""
        self._closing = True
        for runner in self._runners.values():
            runner.cancel()
        for runner in self._runners.values():
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        self._runners.clear()

    async def _keep(self, name: str, work: Work, backoff: Backoff) -> None:
        while True:
            started = time.monotonic()
            run = asyncio.create_task(work(), name=name)
            self._runs[name] = run
            try:
                await asyncio.wait([run])
            except asyncio.CancelledError:
                await self._cancel(name, run)
                raise
            if self._closing or (self.stop is not None and self.stop.is_set()):
                return
            why, delay = _ended(run), backoff.next_delay()
            log.error(
                "%s: background task %s %s; restarting in %.1fs",
                self.service,
                name,
                why,
                delay,
                exc_info=None if run.cancelled() else run.exception(),
            )
            self._problems[name] = why
            self.restarts[name] += 1
            stopping = not await pause(delay, self.stop)
            self._problems.pop(name, None)
            if stopping:
                return
            if time.monotonic() - started >= HEALTHY_RUN:
                backoff.reset()

    async def _cancel(self, name: str, run: asyncio.Task[None]) -> None:
        """Cancel `run` and wait until it has ended, cancelling it again while it runs on."""
        run.cancel()
        while not (await asyncio.wait([run], timeout=CANCEL_AGAIN))[0]:
            log.warning("%s: task %s ignored its cancellation; again", self.service, name)
            run.cancel()
        if not run.cancelled():
            run.exception()  # retrieved: what a task raised while being stopped is moot


def _ended(run: asyncio.Task[None]) -> str:
    if run.cancelled():
        return "was cancelled"
    error = run.exception()
    if error is None:
        return "returned"
    return f"failed: {type(error).__name__}: {error}"
