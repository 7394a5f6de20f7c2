"""api-server replicas for the platform tests: `Replicas` runs `python -m api_server` processes
on their own ports over the test's PostgreSQL and Redis; `MaintainerWatch` samples, over and
over, which of them says it maintains the rollups (`linkora_rollup_maintainer` on /metrics) and
which PostgreSQL backends hold the maintainer lock (pg_locks), so a test can tell that there
was never more than one and when the lock changed hands."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from api_server.rollups import LOCK_KEY
from devstack.ports import free_port
from tests.polling import eventually
from tests.service_processes import ServiceProcesses

# pg_locks shows a bigint advisory key as its two halves, objsubid 1.
_LOCK_ROWS = """
SELECT granted, count(*) AS n FROM pg_locks
WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 1
GROUP BY granted
"""


class Replicas(ServiceProcesses):
    """api-server processes on their own ports, all over the same database and Redis; replica
    `index` is the process named `api-<index>`."""

    def __init__(self, env: dict[str, str], logs: Path, count: int) -> None:
        super().__init__(logs, {
            **env,
            "API_HOST": "127.0.0.1", "WS_HANDSHAKE_RATE": "0", "WS_UPDATE_INTERVAL": "0",
            "ADMIN_TOKEN": "replica-resume-test-token-0123",
        })  # fmt: skip
        self.ports = [free_port() for _ in range(count)]
        for index, port in enumerate(self.ports):
            self.start(f"api-{index}", "api_server", API_PORT=str(port))

    def replica(self, index: int) -> subprocess.Popen[bytes]:
        return self.processes[f"api-{index}"]

    async def ready(self) -> None:
        async with httpx.AsyncClient(timeout=2) as http:

            async def all_up() -> bool:
                for port in self.ports:
                    try:
                        if (await http.get(f"http://127.0.0.1:{port}/health")).status_code != 200:
                            return False
                    except httpx.HTTPError:
                        return False
                return True

            await eventually(all_up, 60, every=0.2, what=f"the replicas up: {self.log('api-0')}")

    def alive(self) -> list[int]:
        return [i for i in range(len(self.ports)) if self.replica(i).poll() is None]


@dataclass(frozen=True)
class Sample:
    """One look at every live replica: who says it maintains, how many backends hold the
    lock and how many wait for it."""

    at: float
    maintainers: tuple[int, ...]
    answered: tuple[int, ...]
    granted: int
    waiting: int


def maintainer_gauge(metrics: str) -> bool:
    (value,) = [
        line.split()[1]
        for line in metrics.splitlines()
        if line.startswith("linkora_rollup_maintainer ")
    ]
    return float(value) == 1


class MaintainerWatch:
    """Samples every `every` seconds until closed; `quiet()` holds sampling off (a replica
    killed in the middle of a sample would leave it half before, half after)."""

    def __init__(self, replicas: Replicas, db: asyncpg.Pool, every: float = 0.1) -> None:
        self.samples: list[Sample] = []
        self._replicas = replicas
        self._db = db
        self._every = every
        self._sampling = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def sample(self, http: httpx.AsyncClient) -> Sample:
        maintainers, answered = [], []
        for index in self._replicas.alive():
            try:
                response = await http.get(f"http://127.0.0.1:{self._replicas.ports[index]}/metrics")
            except httpx.HTTPError:
                continue
            answered.append(index)
            if maintainer_gauge(response.text):
                maintainers.append(index)
        rows = await self._db.fetch(_LOCK_ROWS, LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF)
        counts = {row["granted"]: row["n"] for row in rows}
        return Sample(
            time.monotonic(), tuple(maintainers), tuple(answered),
            counts.get(True, 0), counts.get(False, 0),
        )  # fmt: skip

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                async with self._sampling:
                    self.samples.append(await self.sample(http))
                await asyncio.sleep(self._every)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[MaintainerWatch]:
        self._task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @asynccontextmanager
    async def quiet(self) -> AsyncIterator[None]:
        async with self._sampling:
            yield

    def since(self, moment: float) -> list[Sample]:
        return [s for s in self.samples if s.at > moment]

    async def one_maintainer(self, within: float, after: float = 0.0) -> Sample:
        """The first sample after `after` in which exactly one replica maintains."""

        def found() -> Sample | None:
            return next((s for s in self.since(after) if len(s.maintainers) == 1), None)

        sample = await eventually(found, within, every=0.05, what="one rollup maintainer")
        assert sample is not None
        return sample
