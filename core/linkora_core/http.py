"""Pieces every Starlette app of the platform shares: fast JSON responses and errors."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from linkora_core.db import DATABASE_DOWN
from linkora_core.metrics import RequestMetrics, ServiceMetrics
from linkora_core.ratelimit import RateLimitMiddleware
from linkora_core.settings import HttpSettings

log = logging.getLogger(__name__)


class JSON(Response):
    """Compact JSON via orjson; money values are already plain decimal strings."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(message: str, status: int = 400, headers: dict[str, str] | None = None) -> JSON:
    """The platform's error body: `{"error": "..."}`."""
    return JSON({"error": message}, status_code=status, headers=headers)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """A database that is away answers 503 JSON; the pool reconnects once it is back."""
    log.warning("database unavailable for %s: %s", request.url.path, exc)
    return error("Database unavailable", 503, headers={"Retry-After": "1"})


async def query_cancelled(request: Request, exc: Exception) -> Response:
    """A query stopped by the server's statement timeout: the database is too busy now."""
    log.warning("query cancelled for %s: %s", request.url.path, exc)
    return error("Database busy: the query took too long", 503, headers={"Retry-After": "1"})


def exception_handlers() -> dict[Any, Any]:
    """What every API maps to a response instead of a 500."""
    return {
        **dict.fromkeys(DATABASE_DOWN, database_unavailable),
        asyncpg.QueryCanceledError: query_cancelled,
    }


def middleware(
    settings: HttpSettings,
    expose_headers: Sequence[str] = (),
    metrics: ServiceMetrics | None = None,
) -> list[Middleware]:
    """Request latency metrics (outermost, so 429s count), the per-IP rate limit (429 with
    Retry-After) and CORS every API puts in front."""
    timing = [] if metrics is None else [Middleware(RequestMetrics, metrics=metrics)]
    return [
        *timing,
        Middleware(
            RateLimitMiddleware,
            rate=settings.rate_limit_per_second,
            burst=settings.rate_limit_burst,
            trusted_proxies=settings.trusted_proxies,
        ),
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["Retry-After", *expose_headers],
        ),
    ]


def serve(app: Starlette, settings: HttpSettings, port: int, **options: Any) -> None:
    """Run `app` with uvicorn until SIGTERM/SIGINT, then drain for up to 10 seconds."""
    uvicorn.run(
        app,
        host=settings.api_host,
        port=port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For is read by the rate limiter, and only from TRUSTED_PROXIES.
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        **options,
    )
