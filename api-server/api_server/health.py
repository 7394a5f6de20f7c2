"""`GET /health`: always 200; says which dependencies answer. `GET /ready`: 200 only when the
database and Redis answer, the live feed is subscribed and no background task is down (503
names every problem), so a load balancer drains a replica that cannot serve: `Readiness` says
what is wrong and `linkora_core.http.ready` answers. `/health` also says whether this replica
is the rollup maintainer (holds the lock, and since when)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import State
from starlette.requests import Request

from api_server.rollups import RollupMaintainer
from linkora_core import bus, db
from linkora_core.http import JSON
from linkora_core.readiness import CachedCheck
from linkora_core.tasks import BackgroundTasks


class Readiness:
    """What `/health` and `/ready` look at, in the app's state (read at each check); the
    database and Redis round trips are cached."""

    def __init__(self, state: State, tasks: BackgroundTasks) -> None:
        self.database = CachedCheck(lambda: db.is_healthy(state.pool))
        self.redis = CachedCheck(lambda: _redis_answers(state))
        self._state = state
        self.tasks = tasks

    async def problems(self) -> dict[str, str]:
        problems = self.tasks.problems()
        if not await self.database.get():
            problems["database"] = "unreachable"
        if not await self.redis.get():
            problems["redis"] = "unreachable"
        if not self._state.live_feed.connected:
            problems["live_feed"] = "not subscribed to Redis"
        return problems


async def _redis_answers(state: State) -> bool:
    """A half-open connection would hold the ping for the client's socket timeout."""
    try:
        async with asyncio.timeout(db.HEALTH_TIMEOUT):
            return await bus.is_healthy(state.redis)
    except TimeoutError:
        return False


async def health(request: Request) -> JSON:
    state = request.app.state
    readiness: Readiness = state.readiness
    database = await readiness.database.get()
    redis = await readiness.redis.get()
    return JSON(
        {
            "status": "healthy" if database and redis else "degraded",
            "timestamp": datetime.now(UTC).isoformat(),
            "database": "healthy" if database else "unhealthy",
            "redis": "healthy" if redis else "unhealthy",
            "live_feed": "subscribed" if state.live_feed.connected else "disconnected",
            "websocket_clients": state.hub.clients,
            "rollups": rollups(state.rollups),
        }
    )


def rollups(maintainer: RollupMaintainer | None) -> dict[str, Any]:
    """`enabled`: this process runs a maintainer; `maintainer`: it holds the lock now."""
    since = None if maintainer is None else maintainer.since
    return {
        "enabled": maintainer is not None,
        "maintainer": since is not None,
        "since": None if since is None else since.isoformat(),
    }
