"""When the collector looks at the desired state again: at once on a NOTIFY on
`control_store.CHANNEL`, and at the latest `poll` seconds after it last looked (the safety net
for a NOTIFY lost with its connection).

The LISTEN runs on a pool connection held for it. The connection is checked every few seconds;
once lost (terminated, the database restarted) it is listened on again after a backoff, and
the collector looks at once, since a change may have been missed meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import asyncpg

from linkora_core.backoff import Backoff, RetryPolicy, pause
from linkora_core.control_store import CHANNEL
from linkora_core.db import DATABASE_DOWN
from linkora_core.wakeups import sleep_unless

log = logging.getLogger(__name__)

LISTEN_RETRY = RetryPolicy(first=0.5, cap=10.0)
CHECK_EVERY = 5.0  # seconds between checks that the listening connection still answers
CHECK_TIMEOUT = 3.0
LOST = (*DATABASE_DOWN, asyncpg.PostgresError, asyncpg.InterfaceError)


@dataclass(eq=False)
class ControlWatch:
    pool: asyncpg.Pool
    poll: float = 2.0
    listens: int = field(default=0, init=False)  # LISTENs established (a reconnect adds one)
    notifications: int = field(default=0, init=False)
    backend_pid: int | None = field(default=None, init=False)  # the listening connection's
    _woken: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    @property
    def listening(self) -> bool:
        return self.backend_pid is not None

    def wake(self) -> None:
        self._woken.set()

    async def wait(self, stop: asyncio.Event) -> bool:
        """Until a change is announced, `poll` seconds passed or `stop` is set (False then)."""
        waits = [asyncio.ensure_future(self._woken.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        # Cleared before the caller reads: a NOTIFY arriving during its read wakes it again.
        self._woken.clear()
        return not stop.is_set()

    async def listen(self, stop: asyncio.Event) -> None:
        """LISTEN until `stop` is set, again after every loss of the connection."""
        backoff = LISTEN_RETRY.backoff()
        while not stop.is_set():
            try:
                await self._listen(stop, backoff)
            except LOST as error:
                log.warning("control LISTEN failed (%r)", error)
            finally:
                self.backend_pid = None
            if stop.is_set():
                return
            delay = backoff.next_delay()
            log.warning("control LISTEN connection lost; listening again in %.1fs", delay)
            await pause(delay, stop)

    async def _listen(self, stop: asyncio.Event, backoff: Backoff) -> None:
        async with self.pool.acquire() as connection:
            lost = asyncio.Event()

            def terminated(_: object) -> None:
                lost.set()

            # Removed below: a connection handed back to the pool keeps termination listeners.
            connection.add_termination_listener(terminated)
            try:
                await connection.add_listener(CHANNEL, self._heard)
                self.backend_pid = connection.get_server_pid()
                self.listens += 1
                backoff.reset()
                self.wake()
                while not await _woken(CHECK_EVERY, lost, stop):
                    async with asyncio.timeout(CHECK_TIMEOUT):
                        await connection.fetchval("SELECT 1")
            finally:
                connection.remove_termination_listener(terminated)
                if not connection.is_closed():
                    with contextlib.suppress(*LOST):
                        await connection.remove_listener(CHANNEL, self._heard)

    def _heard(self, *_: object) -> None:
        self.notifications += 1
        self.wake()


async def _woken(seconds: float, *events: asyncio.Event) -> bool:
    """Wait `seconds` unless one of `events` is set first: whether one is."""
    await sleep_unless(seconds, *events)
    return any(event.is_set() for event in events)
