"""Pieces every Starlette app of the platform shares: fast JSON responses, errors mapped to
responses at the edge (a bad request, a database away or too busy), the middleware, the read
pool and the assembly of an API app around its routes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from linkora_core import db, openapi
from linkora_core.asgi_metrics import RequestMetrics, metrics_route
from linkora_core.db import DATABASE_DOWN
from linkora_core.metrics import ServiceMetrics
from linkora_core.ratelimit import RateLimitMiddleware
from linkora_core.readiness import verdict
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


class BadRequest(ValueError):
    """A request the client must fix: a 400 whose body carries this message. Raised anywhere
    below a handler; the one exception handler below renders it."""


# How an app words a 400: `{"error": message}` unless a route speaks another protocol.
BadRequestBody = Callable[[Request, str], Mapping[str, object]]


def error_body(request: Request, message: str) -> Mapping[str, object]:
    return {"error": message}


def _bad_request(body: BadRequestBody) -> Callable[[Request, Exception], Any]:
    async def bad_request(request: Request, exc: Exception) -> Response:
        return JSON(body(request, str(exc)), status_code=400)

    return bad_request


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """A database that is away answers 503 JSON; the pool reconnects once it is back."""
    log.warning("database unavailable for %s: %s", request.url.path, exc)
    return error("Database unavailable", 503, headers={"Retry-After": "1"})


async def query_cancelled(request: Request, exc: Exception) -> Response:
    """A query stopped by the server's statement timeout: the database is too busy now."""
    log.warning("query cancelled for %s: %s", request.url.path, exc)
    return error("Database busy: the query took too long", 503, headers={"Retry-After": "1"})


def exception_handlers(bad_request_body: BadRequestBody = error_body) -> dict[Any, Any]:
    """What every API maps to a response instead of a 500."""
    return {
        BadRequest: _bad_request(bad_request_body),
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


async def read_pool(settings: HttpSettings) -> asyncpg.Pool:
    """The pool an API serves requests from, with the statement and acquire timeouts (503)."""
    # Requests only read, leaving no session state: connections go back without a reset.
    return await db.connect_pool(
        settings.db_dsn,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        reset_on_release=False,
        statement_timeout=settings.db_statement_timeout,
        acquire_timeout=settings.db_acquire_timeout,
    )


async def ready(request: Request) -> Response:
    """`GET /ready` from `app.state.readiness`, whose `problems()` each app defines."""
    body, status = verdict(await request.app.state.readiness.problems())
    return JSON(body, status_code=status)


def api(
    settings: HttpSettings,
    metrics: ServiceMetrics,
    document: openapi.Schema,
    routes: Sequence[BaseRoute],
    *,
    health: Callable[[Request], Any],
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]],
    expose_headers: Sequence[str] = (),
    bad_request_body: BadRequestBody = error_body,
) -> Starlette:
    """An API app of the platform: `/health`, `/ready`, `/metrics`, its own routes, then
    `/openapi.json` and `/docs` of its document, behind the shared middleware and handlers."""
    return Starlette(
        routes=[
            Route("/health", health),
            Route("/ready", ready),
            metrics_route(metrics),
            *routes,
            *openapi.routes(document),
        ],
        middleware=middleware(settings, expose_headers=expose_headers, metrics=metrics),
        exception_handlers=exception_handlers(bad_request_body),
        lifespan=lifespan,
    )


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
