"""The API app assembly: a BadRequest raised anywhere below a handler is the app's 400, and every
API serves its status routes, metrics and document."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from linkora_core import http
from linkora_core.metrics import ServiceMetrics
from linkora_core.openapi import document
from linkora_core.settings import HttpSettings
from tests.http_checks import asgi_client


def _parse(request: Request) -> int:
    raw = request.query_params.get("n", "")
    if not raw.isdigit():
        raise http.BadRequest("n must be digits")
    return int(raw)


async def echo(request: Request) -> Response:
    return http.JSON({"n": _parse(request)})


async def health(request: Request) -> Response:
    return http.JSON({"status": "healthy"})


class _Readiness:
    def __init__(self, problems: dict[str, str]) -> None:
        self.found = problems

    async def problems(self) -> dict[str, str]:
        return self.found


@asynccontextmanager
async def _nothing(app: Starlette) -> AsyncIterator[None]:
    yield


def make_app(body: http.BadRequestBody = http.error_body) -> Starlette:
    app = http.api(
        HttpSettings(_env_file=None, rate_limit_per_second=0),  # type: ignore[call-arg]
        ServiceMetrics("test"),
        document("T", "d", {}, {}),
        [Route("/echo", echo)],
        health=health,
        lifespan=_nothing,
        bad_request_body=body,
    )
    app.state.readiness = _Readiness({})
    return app


async def test_a_bad_request_raised_below_the_handler_is_a_400_with_the_error_body() -> None:
    async with asgi_client(make_app(), "http://t") as client:
        bad = await client.get("/echo?n=x")
        good = await client.get("/echo?n=7")
    assert (bad.status_code, bad.json()) == (400, {"error": "n must be digits"})
    assert bad.headers["content-type"] == "application/json"
    assert (good.status_code, good.json()) == (200, {"n": 7})


async def test_an_app_words_its_400_bodies_its_own_way() -> None:
    def udf(request: Request, message: str) -> Mapping[str, object]:
        return {"s": "error", "errmsg": message, "path": request.url.path}

    async with asgi_client(make_app(udf), "http://t") as client:
        bad = await client.get("/echo")
    assert (bad.status_code, bad.json()) == (
        400,
        {"s": "error", "errmsg": "n must be digits", "path": "/echo"},
    )


@pytest.mark.parametrize(("problems", "status"), [({}, 200), ({"database": "unreachable"}, 503)])
async def test_every_api_serves_health_ready_metrics_and_its_document(
    problems: dict[str, str], status: int
) -> None:
    app = make_app()
    app.state.readiness = _Readiness(problems)
    async with asgi_client(app, "http://t") as client:
        ready = await client.get("/ready")
        assert (ready.status_code, ready.json()) == (
            status,
            {"ready": not problems, "problems": problems},
        )
        assert (await client.get("/health")).json() == {"status": "healthy"}
        assert (await client.get("/metrics")).status_code == 200
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "T"
        assert (await client.get("/docs")).status_code == 200
