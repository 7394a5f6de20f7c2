"""What the API test folders share: an in-process client of an ASGI app, the schemathesis run
of an app against its OpenAPI document, and the checks both APIs pass the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp

# How both APIs' cost limits are tested: one connection, a 2.5 s statement timeout and at most
# 0.3 s of waiting for the connection (assert_a_busy_pool_answers_503).
ONE_CONNECTION = {
    "db_pool_min": 1,
    "db_pool_max": 1,
    "db_statement_timeout": 2.5,
    "db_acquire_timeout": 0.3,
}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@asynccontextmanager
async def asgi_client(app: ASGIApp, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests go straight to `app`, no socket in between."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        yield client


@asynccontextmanager
async def running(app: Starlette, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """`app` with its lifespan started, and an in-process client of it."""
    async with app.router.lifespan_context(app), asgi_client(app, base_url) as client:
        yield client


def cases(document: dict[str, Any]) -> st.SearchStrategy[schemathesis.Case[Any]]:
    """Requests to every operation of the document, valid ones and invalid ones."""
    schema = schemathesis.openapi.from_dict(document)
    return st.one_of([schema.as_strategy(mode) for mode in GenerationMode])


def fuzzing(max_examples: int) -> Callable[[Any], Any]:
    """Hypothesis settings for a schemathesis run over a function-scoped client."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


async def send_and_validate(
    client: httpx.AsyncClient, case: schemathesis.Case[Any], base_url: str
) -> None:
    """Send the case through `client`; its response must be one the document allows."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    response = await client.request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=kwargs["headers"]
    )
    case.validate_response(response, checks=CHECKS)


def http_routes(app: Starlette) -> dict[str, set[str]]:
    """Each HTTP route's path and methods (HEAD aside), as a document's paths list them."""
    return {
        route.path: {m.lower() for m in route.methods or ()} - {"head"}
        for route in app.routes
        if isinstance(route, Route)
    }


def documented(document: dict[str, Any]) -> dict[str, set[str]]:
    return {path: set(item) for path, item in document["paths"].items()}


async def assert_a_busy_pool_answers_503(app: Starlette, base_url: str, path: str) -> None:
    """With the app's only connection held, `path` answers 503 once the acquire timeout
    passes (not after the test's 10 s), and 200 again once it is free."""
    async with asgi_client(app, base_url) as client:
        async with app.state.pool.acquire():  # the only connection is busy
            response = await asyncio.wait_for(client.get(path), 10)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert (await client.get(path)).status_code == 200


async def assert_the_document_and_its_page_are_served(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    assert (await client.get("/openapi.json")).json() == document
    page = await client.get("/docs")
    assert page.headers["content-type"].startswith("text/html")
    for path, item in document["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}</code>" in page.text
