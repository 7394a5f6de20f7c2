"""Schemathesis over the /admin operations with the right token, bodies included: no 5xx and
no response outside the document (the folder-wide run sends no token, so it only meets the
401s and 403s)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
import schemathesis
from admin_helpers import BASE_URL, admin_client
from api_helpers import ADMIN_TOKEN
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from starlette.applications import Starlette

from api_server.openapi import DOCUMENT
from tests import http_checks

_ADMIN = schemathesis.openapi.from_dict(DOCUMENT).include(path_regex="^/admin")
CASES = st.one_of([_ADMIN.as_strategy(mode) for mode in GenerationMode])


async def test_the_fuzzed_operations_are_all_the_admin_operations() -> None:
    documented = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}
    admin = {(p, m) for p, m in documented if p.startswith("/admin")}
    operations = [result.ok() for result in _ADMIN.get_all_operations() if isinstance(result, Ok)]
    assert {(op.path, op.method) for op in operations} == admin
    assert len(admin) == 10


@http_checks.fuzzing(max_examples=250)
@given(case=CASES)
async def test_schemathesis_finds_no_server_error_in_the_admin_api(
    admin: httpx.AsyncClient, case: schemathesis.Case[Any]
) -> None:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    headers = {**kwargs["headers"], "Authorization": f"Bearer {ADMIN_TOKEN}"}
    response = await admin.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=headers,
        json=kwargs.get("json"),
    )
    case.validate_response(response, checks=http_checks.CHECKS)


@pytest.fixture(name="admin")
async def fuzzed_admin(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> AsyncIterator[httpx.AsyncClient]:
    application = make_app(admin_token=ADMIN_TOKEN, admin_writes_per_minute=100_000)
    async with application.router.lifespan_context(application), admin_client(application) as c:
        yield c
