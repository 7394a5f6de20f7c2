"""The `/admin` API: the markets collected (listed with the collector's state, added, removed,
purged), exchanges switched on and off, runtime settings and the audit log.

Every change is made in one transaction with its `admin_audit` row and the NOTIFY the
collectors listen for (linkora_core.control_store), so it is all committed or none of it. A
refused request changes nothing. Callers are admitted by admin_auth."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_server import admin_requests, admin_store, admin_views
from api_server.admin_auth import Admin, AdminHandler, guarded
from api_server.admin_requests import qualified
from linkora_core import bus, control_store
from linkora_core.http import JSON, BadRequest, error
from linkora_core.markets import Market

log = logging.getLogger(__name__)

MAX_BODY: Final = 4096
# Reads of several tables see one moment.
_SNAPSHOT: Final[dict[str, Any]] = {"isolation": "repeatable_read", "readonly": True}


async def _body(request: Request) -> object:
    """The JSON body, at most MAX_BODY bytes."""
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(f"the body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise BadRequest("the body must be JSON") from None


async def _publish(request: Request, event: dict[str, Any]) -> None:
    """Tell the api-servers at once; the change is committed already, so Redis being away
    costs only the immediacy (the collectors take it from PostgreSQL's NOTIFY)."""
    try:
        await request.app.state.redis.publish(bus.CONTROL, orjson.dumps(event))
    except bus.REDIS_DOWN as problem:
        log.warning("control event %s not published: %s", event["event"], problem)


async def _markets(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as connection, connection.transaction(**_SNAPSHOT):
        rows = await control_store.all_markets(connection)
        states = await admin_store.collector_states(connection)
        disabled = await control_store.disabled_exchanges(connection)
    return [admin_views.market(row, states, disabled) for row in rows]


async def _one_market(pool: asyncpg.Pool, market: Market) -> dict[str, Any] | None:
    name = qualified(market)
    return next((m for m in await _markets(pool) if m["market"] == name), None)


async def list_markets(request: Request, admin: Admin) -> Response:
    return JSON({"markets": await _markets(request.app.state.pool)})


async def add_market(request: Request, admin: Admin) -> Response:
    market, start = admin_requests.new_market(await _body(request), datetime.now(UTC))
    pool = request.app.state.pool
    async with pool.acquire() as connection, connection.transaction():
        if not await control_store.add_market(connection, market, start, admin.actor):
            return error(f"{qualified(market)} is collected already", 409)
        detail = {"start_date": admin_views.instant(start)}
        await control_store.record_audit(
            connection, admin.actor, admin.address, "market_added", qualified(market), detail
        )
    return JSON(await _one_market(pool, market), status_code=201)


async def get_market(request: Request, admin: Admin) -> Response:
    market = admin_requests.market_of_path(request.path_params)
    found = await _one_market(request.app.state.pool, market)
    if found is None:
        return error(f"{qualified(market)} was never configured", 404)
    return JSON(found)


async def remove_market(request: Request, admin: Admin) -> Response:
    market = admin_requests.market_of_path(request.path_params)
    pool = request.app.state.pool
    async with pool.acquire() as connection, connection.transaction():
        if not await control_store.remove_market(connection, market):
            return error(f"{qualified(market)} is not collected", 404)
        await control_store.record_audit(
            connection, admin.actor, admin.address, "market_removed", qualified(market), {}
        )
    venue = market.venue
    await _publish(
        request,
        {
            "event": "market_removed",
            "market": str(market),
            "exchange": venue.exchange.value,
            "kind": venue.kind.value,
            "symbol": market.symbol,
        },
    )
    return JSON(await _one_market(pool, market))


async def purge_market(request: Request, admin: Admin) -> Response:
    market = admin_requests.market_of_path(request.path_params)
    admin_requests.check_confirmation(market, request.query_params.get("confirm"))
    async with request.app.state.pool.acquire() as connection, connection.transaction():
        if await admin_store.is_collected(connection, market):
            return error(f"{qualified(market)} is still collected: remove it first", 409)
        # A purge before the collector stopped would be undone by its rows in flight.
        if await admin_store.still_written(connection, market):
            return error(
                f"{qualified(market)} is being stopped: the collector has not yet confirmed it "
                "stopped writing it; try again shortly",
                409,
            )
        deleted = await admin_store.purge(connection, market)
        await control_store.record_audit(
            connection, admin.actor, admin.address, "market_purged", qualified(market), deleted
        )
    return JSON({"market": qualified(market), "deleted": deleted})


async def list_exchanges(request: Request, admin: Admin) -> Response:
    async with request.app.state.pool.acquire() as connection, connection.transaction(**_SNAPSHOT):
        rows = await control_store.all_markets(connection)
        disabled = await control_store.disabled_exchanges(connection)
    return JSON({"exchanges": admin_views.exchanges(rows, disabled)})


async def set_exchange(request: Request, admin: Admin) -> Response:
    exchange = admin_requests.exchange_of_path(request.path_params)
    if exchange is None:
        return error("Unknown exchange", 404)
    enabled = admin_requests.enabled(await _body(request))
    async with request.app.state.pool.acquire() as connection, connection.transaction():
        was = exchange not in await control_store.disabled_exchanges(connection)
        await control_store.set_exchange_enabled(connection, exchange, enabled)
        await control_store.record_audit(
            connection,
            admin.actor,
            admin.address,
            "exchange_enabled" if enabled else "exchange_disabled",
            exchange.value,
            {"enabled": enabled, "was_enabled": was},
        )
        rows = await control_store.all_markets(connection)
        disabled = await control_store.disabled_exchanges(connection)
    event = "exchange_enabled" if enabled else "exchange_disabled"
    await _publish(request, {"event": event, "exchange": exchange.value})
    view = next(e for e in admin_views.exchanges(rows, disabled) if e["exchange"] == exchange)
    return JSON(view)


async def get_settings(request: Request, admin: Admin) -> Response:
    runtime = await control_store.runtime_settings(request.app.state.pool)
    settings = request.app.state.settings
    return JSON({"settings": admin_views.runtime_settings(settings, runtime)})


async def change_settings(request: Request, admin: Admin) -> Response:
    changes = admin_requests.settings_patch(await _body(request))
    settings = request.app.state.settings
    async with request.app.state.pool.acquire() as connection, connection.transaction():
        before = admin_views.effective_settings(
            settings, await control_store.runtime_settings(connection)
        )
        for name, value in changes.items():
            await control_store.set_setting(connection, name, value)
        detail = {name: {"from": before[name], "to": value} for name, value in changes.items()}
        await control_store.record_audit(
            connection, admin.actor, admin.address, "settings_changed", "settings", detail
        )
        runtime = await control_store.runtime_settings(connection)
    return JSON({"settings": admin_views.runtime_settings(settings, runtime)})


async def audit(request: Request, admin: Admin) -> Response:
    limit, before = admin_requests.audit_page(request.query_params)
    rows = await control_store.audit_rows(request.app.state.pool, limit, before)
    entries = [admin_views.audit_entry(row) for row in rows]
    following = entries[-1]["id"] if len(entries) == limit else None
    return JSON({"entries": entries, "next_before": following})


def _route(path: str, **handlers: AdminHandler) -> Route:
    writes = frozenset(handlers) - {"GET"}
    return Route(path, guarded(handlers, writes=writes), methods=list(handlers))


_MARKET = "/admin/markets/{exchange}/{kind}/{symbol}"


def routes() -> list[Route]:
    return [
        _route("/admin/markets", GET=list_markets, POST=add_market),
        _route(_MARKET, GET=get_market, DELETE=remove_market),
        _route(f"{_MARKET}/purge", POST=purge_market),
        _route("/admin/exchanges", GET=list_exchanges),
        _route("/admin/exchanges/{exchange}", PUT=set_exchange),
        _route("/admin/settings", GET=get_settings, PATCH=change_settings),
        _route("/admin/audit", GET=audit),
    ]
