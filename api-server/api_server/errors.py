"""Failures that are not the client's: a database that is away answers 503 JSON, and the
pool reconnects on its own once it is back."""

from __future__ import annotations

import logging

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from linkora_core.db import UNAVAILABLE
from linkora_core.http import error

log = logging.getLogger(__name__)

DATABASE_DOWN: tuple[type[BaseException], ...] = (
    *UNAVAILABLE,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown
    # A pooled connection whose server process was killed while it sat idle.
    asyncpg.InternalClientError,
)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable for %s: %s", request.url.path, exc)
    return error("Database unavailable", 503, headers={"Retry-After": "1"})
