"""Who may use /admin: 503 while no token is set, 401 without a bearer token, 403 with a wrong
one (compared in constant time), 429 after too many wrong ones from one address and for too
many changes; a refused request changes nothing; the audit names the token's fingerprint and
the client's address; production refuses a missing, example or short token."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from admin_helpers import admin_client, audit_rows, control_state
from api_helpers import ADMIN_TOKEN
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from api_server.admin_auth import DISABLED, Admin, AdminGuard
from api_server.settings import ApiSettings
from linkora_core.ratelimit import ClientAddress
from linkora_core.settings import EXAMPLE_SECRETS

REPO = Path(__file__).resolve().parents[2]
MARKET = {"exchange": "bybit", "kind": "linear", "symbol": "BTCUSDT"}
# One request of every admin operation; the changes among them are what a refusal must not do.
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/admin/markets", {}),
    ("POST", "/admin/markets", {"json": MARKET}),
    ("GET", "/admin/markets/bybit/linear/BTCUSDT", {}),
    ("DELETE", "/admin/markets/bybit/linear/BTCUSDT", {}),
    (
        "POST",
        "/admin/markets/bybit/linear/BTCUSDT/purge",
        {"params": {"confirm": "bybit:linear:BTCUSDT"}},
    ),
    ("GET", "/admin/exchanges", {}),
    ("PUT", "/admin/exchanges/okx", {"json": {"enabled": False}}),
    ("GET", "/admin/settings", {}),
    ("PATCH", "/admin/settings", {"json": {"orderbook_levels": 10}}),
    ("GET", "/admin/audit", {}),
]
EMPTY: dict[str, list[Any]] = {"markets": [], "exchanges": [], "settings": [], "audit": []}


@pytest.fixture
async def running(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> AsyncIterator[Callable[..., Any]]:
    """`await running(**settings)`: an app with its lifespan entered until the test ends."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides: Any) -> Starlette:
            application = make_app(**overrides)
            await stack.enter_async_context(application.router.lifespan_context(application))
            return application

        yield start


async def _send_all(client: httpx.AsyncClient) -> list[httpx.Response]:
    return [await client.request(method, url, **extra) for method, url, extra in REQUESTS]


async def test_without_a_token_set_every_admin_request_is_a_503_saying_so(
    running: Callable[..., Any], clean_db: asyncpg.Pool
) -> None:
    app = await running(admin_token=None)
    async with admin_client(app) as client:
        responses = await _send_all(client)
    assert {(r.status_code, r.json()["error"]) for r in responses} == {(503, DISABLED)}
    assert DISABLED == "admin API disabled: set ADMIN_TOKEN"
    assert await control_state(clean_db) == EMPTY


@pytest.mark.parametrize("header", [None, "Basic YWRtaW46eA==", "Bearer", "Bearer   ", ADMIN_TOKEN])
async def test_a_request_without_a_bearer_token_is_a_401_with_www_authenticate(
    app: Starlette, clean_db: asyncpg.Pool, header: str | None
) -> None:
    async with admin_client(app, token=None) as client:
        if header is not None:
            client.headers["Authorization"] = header
        responses = await _send_all(client)
    assert {r.status_code for r in responses} == {401}
    assert {r.headers["www-authenticate"] for r in responses} == {"Bearer"}
    assert {r.json()["error"] for r in responses} == {"Bearer token required"}
    assert await control_state(clean_db) == EMPTY


async def test_a_wrong_token_is_a_403_and_changes_nothing(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> None:
    app = make_app(admin_token=ADMIN_TOKEN, admin_auth_failures_per_minute=100)
    async with app.router.lifespan_context(app):
        for wrong in [ADMIN_TOKEN[:-1], ADMIN_TOKEN + "x", ADMIN_TOKEN.upper(), "x" * 200]:
            async with admin_client(app, token=wrong) as client:
                responses = await _send_all(client)
            assert {(r.status_code, r.json()["error"]) for r in responses} == {
                (403, "Wrong admin token")
            }
    assert await control_state(clean_db) == EMPTY


async def test_the_scheme_is_read_in_any_letter_case(app: Starlette) -> None:
    async with admin_client(app, token=None) as client:
        client.headers["Authorization"] = f"bearer {ADMIN_TOKEN}"
        assert (await client.get("/admin/markets")).status_code == 200


async def test_the_token_is_compared_in_constant_time(
    app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    # admin_auth looks the function up on the module at each call.
    monkeypatch.setattr(hmac, "compare_digest", spy)
    digest = hashlib.sha256(ADMIN_TOKEN.encode()).digest()
    async with admin_client(app) as right, admin_client(app, token="nope") as wrong:
        assert (await right.get("/admin/audit")).status_code == 200
        assert (await wrong.get("/admin/audit")).status_code == 403
    # Digests of equal length whatever the token's: the time tells nothing of its length.
    assert compared == [(digest, digest), (hashlib.sha256(b"nope").digest(), digest)]


async def test_too_many_wrong_tokens_from_one_address_are_a_429_for_that_address_only(
    app: Starlette, clean_db: asyncpg.Pool
) -> None:
    async with (
        admin_client(app, token="guess", address="10.0.0.9") as guesser,
        admin_client(app, address="10.0.0.9") as same_address,
        admin_client(app, token=None, address="10.0.0.9") as anonymous,
        admin_client(app, address="10.0.0.10") as elsewhere,
    ):
        # Requests without a token are not guesses: they spend nothing.
        assert {(await anonymous.get("/admin/audit")).status_code for _ in range(12)} == {401}
        statuses = [(await guesser.get("/admin/markets")).status_code for _ in range(10)]
        assert statuses == [403] * 10
        refused = await guesser.get("/admin/markets")
        assert (refused.status_code, refused.json()) == (
            429,
            {"error": "Too many failed admin authentications"},
        )
        assert 1 <= int(refused.headers["retry-after"]) <= 6
        # The address is refused whatever it sends until the budget refills.
        assert (await same_address.post("/admin/markets", json=MARKET)).status_code == 429
        assert (await anonymous.get("/admin/markets")).status_code == 429
        assert (await elsewhere.get("/admin/markets")).status_code == 200
    assert await control_state(clean_db) == EMPTY


def _request(token: str | None, address: str = "192.0.2.1") -> Request:
    headers = [] if token is None else [(b"authorization", f"Bearer {token}".encode())]
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("api", 80),
            "path": "/admin/markets",
            "query_string": b"",
            "headers": headers,
            "client": (address, 1),
        }
    )


def test_the_failure_budget_refills_at_its_rate() -> None:
    now = [1000.0]
    guard = AdminGuard(ADMIN_TOKEN, ClientAddress(), failures_per_minute=10, clock=lambda: now[0])

    def status(token: str) -> int:
        verdict = guard.admit(_request(token), write=False)
        return 200 if isinstance(verdict, Admin) else verdict.status_code

    assert [status("wrong") for _ in range(10)] == [403] * 10
    assert status(ADMIN_TOKEN) == 429
    now[0] += 5.9  # ten a minute: one every six seconds
    assert status(ADMIN_TOKEN) == 429
    now[0] += 0.2
    assert status(ADMIN_TOKEN) == 200
    assert status("wrong") == 403
    assert status(ADMIN_TOKEN) == 429


def test_the_actor_is_the_tokens_fingerprint() -> None:
    verdict = AdminGuard("another-long-admin-token", ClientAddress()).admit(
        _request("another-long-admin-token"), write=True
    )
    expected = hashlib.sha256(b"another-long-admin-token").hexdigest()[:8]
    assert verdict == Admin(f"admin:{expected}", "192.0.2.1")


async def test_changes_beyond_the_write_budget_are_a_429_and_change_nothing(
    running: Callable[..., Any], clean_db: asyncpg.Pool
) -> None:
    app = await running(admin_token=ADMIN_TOKEN, admin_writes_per_minute=3)
    async with admin_client(app) as client:
        for levels in (5, 10, 20):
            patched = await client.patch("/admin/settings", json={"orderbook_levels": levels})
            assert patched.status_code == 200
        before = await control_state(clean_db)
        refused = await client.patch("/admin/settings", json={"orderbook_levels": 50})
        assert (refused.status_code, refused.json()) == (429, {"error": "Too many admin changes"})
        assert int(refused.headers["retry-after"]) >= 1
        assert (await client.post("/admin/markets", json=MARKET)).status_code == 429
        assert await control_state(clean_db) == before
        # Reads spend no write budget.
        assert (await client.get("/admin/settings")).status_code == 200
    async with admin_client(app, address="10.1.1.1") as other:
        assert (await other.post("/admin/markets", json=MARKET)).status_code == 201


async def test_the_audit_names_the_client_behind_a_trusted_proxy_and_the_tokens_fingerprint(
    running: Callable[..., Any], clean_db: asyncpg.Pool
) -> None:
    app = await running(admin_token="rotated-token-of-the-operators", trusted_proxies="127.0.0.1")
    async with admin_client(app, token="rotated-token-of-the-operators") as client:
        client.headers["X-Forwarded-For"] = "198.51.100.4, 203.0.113.7"
        assert (await client.post("/admin/markets", json=MARKET)).status_code == 201
    (row,) = await audit_rows(clean_db)
    fingerprint = hashlib.sha256(b"rotated-token-of-the-operators").hexdigest()[:8]
    assert (row["actor"], row["address"]) == (f"admin:{fingerprint}", "203.0.113.7")
    assert await clean_db.fetchval("SELECT added_by FROM control_markets") == row["actor"]


# Settings


def _settings(**fields: Any) -> ApiSettings:
    """Settings from `fields` alone (no `.env`), as the environment's text would give them."""
    return ApiSettings(_env_file=None, **fields)  # type: ignore[call-arg]  # pydantic-settings


def _production(**fields: Any) -> ApiSettings:
    return _settings(environment="production", db_password="a-real-database-secret", **fields)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "ADMIN_TOKEN is required in production"),
        ("", "ADMIN_TOKEN is required in production"),
        ("linkora_dev_admin_token", "ADMIN_TOKEN is an example value"),
        ("change-me", "ADMIN_TOKEN is an example value"),
        ("short-secret", "ADMIN_TOKEN must be at least 16 characters"),
    ],
)
def test_production_refuses_a_missing_example_or_short_token(
    token: str | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _production(**({} if token is None else {"admin_token": token}))


def test_production_takes_a_real_token_and_development_none() -> None:
    token = _production(admin_token="a-real-admin-token-1234").admin_token
    assert token is not None and token.get_secret_value() == "a-real-admin-token-1234"
    assert _settings().admin_token is None
    assert _settings(admin_token=" ").admin_token is None


def test_a_production_api_server_without_a_token_stops_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api_server"],
        env={"PATH": "/usr/bin:/bin", "ENVIRONMENT": "production", "DB_PASSWORD": "real-secret"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO / "tests",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: ADMIN_TOKEN is required in production"
    ]


def test_the_example_token_of_the_development_files_is_an_example_secret() -> None:
    example = re.search(r"^ADMIN_TOKEN=(\S+)", (REPO / ".env.example").read_text(), re.M)
    assert example is not None and example[1] in EXAMPLE_SECRETS
    assert f"${{ADMIN_TOKEN:-{example[1]}}}" in (REPO / "docker-compose.yml").read_text()


def test_an_unset_guard_answers_503_even_to_the_right_header() -> None:
    verdict = AdminGuard(None, ClientAddress()).admit(_request(ADMIN_TOKEN), write=False)
    assert isinstance(verdict, Response) and verdict.status_code == 503
