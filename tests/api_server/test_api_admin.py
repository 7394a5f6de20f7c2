"""The /admin API with the right token: markets listed with the collector's state, added,
removed and purged; exchanges switched off and on; runtime settings; the audit log. Every
change writes its audit row and NOTIFYs `linkora_control`; every refused request changes
nothing; a change survives a restart of the api-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from admin_helpers import (
    admin_client,
    audit_rows,
    control_messages,
    control_state,
    notifications,
)
from api_helpers import ADMIN_TOKEN, BYBIT_LINEAR, minute, spot, store_minutes
from starlette.applications import Starlette

from api_server.admin_auth import fingerprint
from devstack.ports import free_port
from linkora_core.markets import Market
from tests.polling import eventually

ACTOR = f"admin:{fingerprint(ADMIN_TOKEN)}"
BYBIT_BTC = Market(BYBIT_LINEAR, "BTCUSDT")
BYBIT_PATH = "/admin/markets/bybit/linear/BTCUSDT"
NEW_BYBIT = {"exchange": "bybit", "kind": "linear", "symbol": "btcusdt", "start_date": "2026-01-01"}
# The desired state and audit log before any change.
_EMPTY: dict[str, list[tuple[Any, ...]]] = {
    "markets": [],
    "exchanges": [],
    "settings": [],
    "audit": [],
}


@pytest.fixture
async def admin(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with admin_client(app) as client:
        yield client


async def _add(admin: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await admin.post("/admin/markets", json=body)
    assert response.status_code == 201, response.text
    added: dict[str, Any] = response.json()
    return added


# Markets: add


async def test_adding_a_market_answers_it_records_it_audits_it_and_notifies(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool, pg_dsn: str
) -> None:
    async with notifications(pg_dsn) as heard:
        response = await admin.post("/admin/markets", json=NEW_BYBIT)
        await eventually(lambda: heard, within=5, what="a NOTIFY on linkora_control")
    assert response.status_code == 201
    assert response.json() == {
        "market": "bybit:linear:BTCUSDT",
        "exchange": "bybit",
        "kind": "linear",
        "symbol": "BTCUSDT",
        "start_date": "2026-01-01T00:00:00+00:00",
        "added_at": response.json()["added_at"],
        "added_by": ACTOR,
        "removed_at": None,
        "collected": True,
        "state": None,
    }
    assert heard == [{"change": "markets"}]
    row = await clean_db.fetchrow("SELECT * FROM control_markets")
    assert (row["venue"], row["symbol"], row["added_by"]) == ("bybit-linear", "BTCUSDT", ACTOR)
    assert row["start_date"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert await audit_rows(clean_db) == [
        {
            "actor": ACTOR,
            "address": "127.0.0.1",
            "action": "market_added",
            "target": "bybit:linear:BTCUSDT",
            "detail": {"start_date": "2026-01-01T00:00:00+00:00"},
        }
    ]


async def test_a_market_without_kind_or_start_date_is_the_exchanges_spot_from_start_date(
    admin: httpx.AsyncClient,
) -> None:
    added = await _add(admin, exchange="OKX", symbol="btc-usdt")
    assert (added["market"], added["start_date"]) == ("okx:spot:BTC-USDT", None)
    added = await _add(admin, exchange="binance", symbol="ETHUSDT", start_date="2025-03-01T12:30Z")
    assert (added["market"], added["start_date"]) == (
        "binance:spot:ETHUSDT",
        "2025-03-01T12:30:00+00:00",
    )


async def test_adding_a_market_collected_already_is_a_409_and_changes_nothing(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await _add(admin, **NEW_BYBIT)
    before = await control_state(clean_db)
    response = await admin.post("/admin/markets", json={**NEW_BYBIT, "start_date": "2025-01-01"})
    assert response.status_code == 409
    assert response.json() == {"error": "bybit:linear:BTCUSDT is collected already"}
    assert await control_state(clean_db) == before


def _future() -> str:
    return (datetime.now(UTC) + timedelta(minutes=5)).isoformat()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**NEW_BYBIT, "exchange": "kraken"}, "unknown exchange 'kraken'"),
        ({**NEW_BYBIT, "kind": "swap"}, "unknown kind 'swap' for bybit"),
        ({**NEW_BYBIT, "symbol": "BTC/USDT"}, "invalid symbol 'BTC/USDT'"),
        ({"exchange": "binance", "symbol": "BTC-USDT"}, "Binance spot symbols are 2-20"),
        ({"exchange": "bybit"}, "symbol is required"),
        ({"symbol": "BTCUSDT"}, "exchange is required"),
        ({**NEW_BYBIT, "symbol": 7}, "symbol must be a string"),
        ({**NEW_BYBIT, "start_date": "tomorrow"}, "start_date must be an ISO-8601 date"),
        ({**NEW_BYBIT, "start_date": "1969-12-31"}, "start_date must not be before 1970"),
        ({**NEW_BYBIT, "venue": "x"}, "unknown fields ['venue']"),
        (["bybit", "BTCUSDT"], "the body must be a JSON object"),
    ],
)
async def test_a_bad_new_market_is_a_400_naming_the_problem_and_changes_nothing(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool, body: object, message: str
) -> None:
    response = await admin.post("/admin/markets", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert await control_state(clean_db) == _EMPTY


async def test_a_start_date_in_the_future_is_refused(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    response = await admin.post("/admin/markets", json={**NEW_BYBIT, "start_date": _future()})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "start_date must not be in the future"},
    )
    assert await control_state(clean_db) == _EMPTY


@pytest.mark.parametrize("body", [b"{", b"", b"x" * 5000])
async def test_a_body_that_is_no_json_or_too_large_is_a_400(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool, body: bytes
) -> None:
    response = await admin.post("/admin/markets", content=body)
    assert response.status_code == 400
    assert await control_state(clean_db) == _EMPTY


# Markets: listing with the collector's state


async def test_the_listing_joins_the_collectors_state_and_says_what_is_collected(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await _add(admin, **NEW_BYBIT)
    await _add(admin, exchange="binance", symbol="BTCUSDT")
    await clean_db.execute(
        """INSERT INTO collector_state (venue, symbol, phase, backfill_done, backfill_total,
               backfill_rate, backfill_eta, last_error, last_closed_minute)
           VALUES ('bybit-linear', 'BTCUSDT', 'backfill', 223380, 525600, 16326.50,
                   interval '18.9 seconds', 'HTTP 429', '2026-02-01T00:00Z')"""
    )
    response = await admin.get("/admin/markets")
    assert response.status_code == 200
    listed = {m["market"]: m for m in response.json()["markets"]}
    assert list(listed) == ["binance:spot:BTCUSDT", "bybit:linear:BTCUSDT"]
    assert listed["binance:spot:BTCUSDT"]["state"] is None
    state = listed["bybit:linear:BTCUSDT"]["state"]
    assert state == {
        "phase": "backfill",
        "last_error": "HTTP 429",
        "last_closed_minute": "2026-02-01T00:00:00+00:00",
        "backfill_done": 223380,
        "backfill_total": 525600,
        "backfill_percent": "42.5",
        "backfill_rate": "16326.5",
        "backfill_eta_seconds": 18,
        "updated_at": state["updated_at"],
    }
    assert all(m["collected"] for m in listed.values())

    one = await admin.get(BYBIT_PATH)
    assert (one.status_code, one.json()) == (200, listed["bybit:linear:BTCUSDT"])
    never = await admin.get("/admin/markets/okx/swap/BTC-USDT-SWAP")
    assert (never.status_code, never.json()) == (
        404,
        {"error": "okx:swap:BTC-USDT-SWAP was never configured"},
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/admin/markets/kraken/spot/BTCUSDT", "unknown exchange 'kraken'"),
        ("/admin/markets/bybit/usdm/BTCUSDT", "unknown kind 'usdm' for bybit"),
        ("/admin/markets/bybit/linear/-BTC", "invalid symbol '-BTC'"),
    ],
)
async def test_a_market_path_naming_no_market_is_a_400(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool, path: str, message: str
) -> None:
    for response in [
        await admin.get(path),
        await admin.delete(path),
        await admin.post(f"{path}/purge", params={"confirm": "x"}),
    ]:
        assert response.status_code == 400
        assert message in response.json()["error"]
    assert await control_state(clean_db) == _EMPTY


# Markets: removal


async def test_removing_a_market_keeps_its_row_audits_notifies_and_tells_the_api_servers(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool, pg_dsn: str, redis_url: str
) -> None:
    await _add(admin, **NEW_BYBIT)
    async with notifications(pg_dsn) as heard, control_messages(redis_url) as published:
        response = await admin.delete(BYBIT_PATH)
        await eventually(lambda: heard and published, within=5, what="NOTIFY and Redis")
    assert response.status_code == 200
    removed = response.json()
    assert (removed["market"], removed["collected"]) == ("bybit:linear:BTCUSDT", False)
    assert removed["removed_at"] is not None
    assert heard == [{"change": "markets"}]
    assert published == [
        {
            "event": "market_removed",
            "market": "bybit:linear:BTCUSDT",
            "exchange": "bybit",
            "kind": "linear",
            "symbol": "BTCUSDT",
        }
    ]
    audit = await audit_rows(clean_db)
    assert [(a["action"], a["target"], a["address"]) for a in audit] == [
        ("market_added", "bybit:linear:BTCUSDT", "127.0.0.1"),
        ("market_removed", "bybit:linear:BTCUSDT", "127.0.0.1"),
    ]

    before = await control_state(clean_db)
    again = await admin.delete(BYBIT_PATH)
    assert (again.status_code, again.json()) == (
        404,
        {"error": "bybit:linear:BTCUSDT is not collected"},
    )
    assert await control_state(clean_db) == before
    # Added again: collected again from the new start.
    readded = await _add(admin, **{**NEW_BYBIT, "start_date": "2025-06-01"})
    assert (readded["collected"], readded["removed_at"]) == (True, None)


async def test_the_removal_of_a_binance_spot_market_names_it_by_its_bare_symbol_on_redis(
    admin: httpx.AsyncClient, redis_url: str
) -> None:
    await _add(admin, exchange="binance", symbol="ETHUSDT")
    async with control_messages(redis_url) as published:
        assert (await admin.delete("/admin/markets/binance/spot/ethusdt")).status_code == 200
        await eventually(lambda: published, within=5, what="the control message")
    assert published[0]["market"] == "ETHUSDT"
    assert (published[0]["exchange"], published[0]["kind"]) == ("binance", "spot")


async def test_a_removal_while_redis_is_down_is_committed_and_logged(
    make_app: Callable[..., Starlette],
    clean_db: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    application = make_app(admin_token=ADMIN_TOKEN, redis_port=free_port())
    async with application.router.lifespan_context(application), admin_client(application) as c:
        await _add(c, **NEW_BYBIT)
        response = await c.delete(BYBIT_PATH)
    assert response.status_code == 200
    assert await clean_db.fetchval("SELECT removed_at IS NOT NULL FROM control_markets")
    assert any("control event market_removed not published" in r.message for r in caplog.records)


# Markets: purge


async def _store_market_rows(db: asyncpg.Pool, market: Market) -> None:
    """A row of `market` in every table a purge empties."""
    await store_minutes(db, market, [minute(60_000 * i, "1", "2", "0.5", "1.5") for i in range(3)])
    key = (market.venue.key, market.symbol)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    await db.execute(
        """INSERT INTO candle_rollups (venue, symbol, timeframe, open_time, open_price,
               high_price, low_price, close_price, volume, quote_volume, trades,
               taker_buy_volume, taker_buy_quote_volume)
           VALUES ($1, $2, '5', $3, 1, 2, 0.5, 1.5, 3, 30, 3, 1.5, 15)""",
        *key,
        at,
    )
    await db.execute(
        """INSERT INTO candle_changes (venue, symbol, first_open_time, last_open_time)
           VALUES ($1, $2, $3, $3)""",
        *key,
        at,
    )
    await db.execute(
        "INSERT INTO candle_gaps (venue, symbol, gap_start, gap_end) VALUES ($1, $2, $3, $4)",
        *key,
        at,
        at + timedelta(minutes=5),
    )
    await db.execute(
        """INSERT INTO orderbook_data (venue, symbol, captured_at, last_update_id, bid_prices,
               bid_quantities, ask_prices, ask_quantities)
           VALUES ($1, $2, $3, 1, '{1}', '{1}', '{2}', '{1}')""",
        *key,
        at,
    )
    await db.execute(
        "INSERT INTO collector_state (venue, symbol, phase) VALUES ($1, $2, 'realtime')", *key
    )


_PURGED = (
    "candles",
    "candle_rollups",
    "candle_changes",
    "candle_gaps",
    "orderbook_data",
    "collector_state",
)


async def _counts(db: asyncpg.Pool, market: Market) -> dict[str, int]:
    return {
        table: await db.fetchval(
            f"SELECT count(*) FROM {table} WHERE venue = $1 AND symbol = $2",
            market.venue.key,
            market.symbol,
        )
        for table in _PURGED
    }


async def test_a_purge_deletes_that_markets_rows_only_and_answers_the_counts(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    others = [spot("BTCUSDT"), Market(BYBIT_LINEAR, "ETHUSDT")]
    for market in [BYBIT_BTC, *others]:
        await _store_market_rows(clean_db, market)
    await _add(admin, **NEW_BYBIT)
    path = f"{BYBIT_PATH}/purge"

    collected = await admin.post(path, params={"confirm": "bybit:linear:BTCUSDT"})
    assert (collected.status_code, collected.json()) == (
        409,
        {"error": "bybit:linear:BTCUSDT is still collected: remove it first"},
    )
    assert (await admin.delete(BYBIT_PATH)).status_code == 200
    await _collector_stopped(clean_db, BYBIT_BTC)
    before = await control_state(clean_db)
    for confirm in [None, "", "bybit:linear:ETHUSDT", "BTCUSDT", "Bybit:Linear:BTCUSDT"]:
        params = {} if confirm is None else {"confirm": confirm}
        refused = await admin.post(path, params=params)
        assert refused.status_code == 400
        assert "bybit:linear:BTCUSDT" in refused.json()["error"]
    assert await control_state(clean_db) == before
    full = {table: 1 for table in _PURGED} | {"candles": 3}
    assert await _counts(clean_db, BYBIT_BTC) == full

    response = await admin.post(path, params={"confirm": "bybit:linear:BTCUSDT"})
    assert response.status_code == 200
    assert response.json() == {"market": "bybit:linear:BTCUSDT", "deleted": full}
    assert await _counts(clean_db, BYBIT_BTC) == dict.fromkeys(_PURGED, 0)
    for market in others:
        assert await _counts(clean_db, market) == full
    last = (await audit_rows(clean_db))[-1]
    assert (last["action"], last["target"], last["detail"]) == (
        "market_purged",
        "bybit:linear:BTCUSDT",
        full,
    )
    # The market stays configured (removed): its row is not part of its data.
    assert await clean_db.fetchval("SELECT count(*) FROM control_markets") == 1


async def _collector_stopped(db: asyncpg.Pool, market: Market) -> None:
    """What the collector records once it has stopped writing a removed market."""
    await db.execute(
        "UPDATE collector_state SET phase = 'removed' WHERE venue = $1 AND symbol = $2",
        market.venue.key,
        market.symbol,
    )


async def test_a_removed_market_is_purged_only_once_the_collector_confirmed_it_stopped(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await _store_market_rows(clean_db, BYBIT_BTC)
    await _add(admin, **NEW_BYBIT)
    assert (await admin.delete(BYBIT_PATH)).status_code == 200
    path = f"{BYBIT_PATH}/purge"
    confirm = {"confirm": "bybit:linear:BTCUSDT"}
    full = {table: 1 for table in _PURGED} | {"candles": 3}
    audited = len(await audit_rows(clean_db))

    # Removed, but the collector's state is still `realtime`: its writes may be in flight.
    early = await admin.post(path, params=confirm)
    assert early.status_code == 409
    assert "not yet confirmed" in early.json()["error"]
    assert await _counts(clean_db, BYBIT_BTC) == full
    assert len(await audit_rows(clean_db)) == audited

    await _collector_stopped(clean_db, BYBIT_BTC)
    response = await admin.post(path, params=confirm)
    assert response.status_code == 200
    assert response.json()["deleted"] == full
    assert await _counts(clean_db, BYBIT_BTC) == dict.fromkeys(_PURGED, 0)


async def test_a_removed_market_without_a_collector_state_can_be_purged(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await _add(admin, **NEW_BYBIT)
    assert (await admin.delete(BYBIT_PATH)).status_code == 200
    response = await admin.post(f"{BYBIT_PATH}/purge", params={"confirm": "bybit:linear:BTCUSDT"})
    assert response.status_code == 200
    assert response.json()["deleted"] == dict.fromkeys(_PURGED, 0)


async def test_a_market_never_configured_can_be_purged(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await _store_market_rows(clean_db, spot("LTCUSDT"))
    response = await admin.post(
        "/admin/markets/binance/spot/LTCUSDT/purge", params={"confirm": "binance:spot:LTCUSDT"}
    )
    assert response.status_code == 200
    assert response.json()["deleted"]["candles"] == 3
    assert await _counts(clean_db, spot("LTCUSDT")) == dict.fromkeys(_PURGED, 0)


# Exchanges


async def test_an_exchange_disabled_and_enabled_again(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool, pg_dsn: str, redis_url: str
) -> None:
    await _add(admin, **NEW_BYBIT)
    listed = await admin.get("/admin/exchanges")
    assert listed.status_code == 200
    assert listed.json() == {
        "exchanges": [
            {"exchange": "binance", "enabled": True, "kinds": ["spot", "usdm"], "markets": 0},
            {"exchange": "bybit", "enabled": True, "kinds": ["spot", "linear"], "markets": 1},
            {"exchange": "okx", "enabled": True, "kinds": ["spot", "swap"], "markets": 0},
            {"exchange": "whitebit", "enabled": True, "kinds": ["spot"], "markets": 0},
        ]
    }
    async with notifications(pg_dsn) as heard, control_messages(redis_url) as published:
        off = await admin.put("/admin/exchanges/Bybit", json={"enabled": False})
        await eventually(lambda: heard and published, within=5, what="NOTIFY and Redis")
    assert (off.status_code, off.json()) == (
        200,
        {"exchange": "bybit", "enabled": False, "kinds": ["spot", "linear"], "markets": 1},
    )
    assert heard == [{"change": "exchanges"}]
    assert published == [{"event": "exchange_disabled", "exchange": "bybit"}]
    market = (await admin.get(BYBIT_PATH)).json()
    assert (market["collected"], market["removed_at"]) == (False, None)
    assert await clean_db.fetch("SELECT exchange, enabled FROM control_exchanges") == [
        ("bybit", False)
    ]

    on = await admin.put("/admin/exchanges/bybit", json={"enabled": True})
    assert on.json()["enabled"] is True
    assert (await admin.get(BYBIT_PATH)).json()["collected"] is True
    audit = await audit_rows(clean_db)
    assert [(a["action"], a["target"], a["detail"]) for a in audit[1:]] == [
        ("exchange_disabled", "bybit", {"enabled": False, "was_enabled": True}),
        ("exchange_enabled", "bybit", {"enabled": True, "was_enabled": False}),
    ]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/admin/exchanges/kraken", {"enabled": False}, 404),
        ("/admin/exchanges/bybit", {"enabled": "no"}, 400),
        ("/admin/exchanges/bybit", {"enabled": 0}, 400),
        ("/admin/exchanges/bybit", {"enabled": False, "why": "x"}, 400),
        ("/admin/exchanges/bybit", {}, 400),
    ],
)
async def test_a_bad_exchange_change_is_refused_and_changes_nothing(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool, path: str, body: object, status: int
) -> None:
    response = await admin.put(path, json=body)
    assert response.status_code == status
    assert "error" in response.json()
    assert await control_state(clean_db) == _EMPTY


# Settings


def _values(answer: dict[str, Any]) -> dict[str, Any]:
    return {s["name"]: (s["value"], s["default"], s["runtime"]) for s in answer["settings"]}


async def test_the_settings_in_effect_are_the_environments_until_changed_at_runtime(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool, pg_dsn: str
) -> None:
    response = await admin.get("/admin/settings")
    assert response.status_code == 200
    assert response.json()["settings"][0] == {
        "name": "orderbook_levels",
        "value": 20,
        "default": 20,
        "runtime": None,
        "service": "data-collector",
    }
    assert _values(response.json()) == {
        "orderbook_levels": (20, 20, None),
        "orderbook_store_interval": (1.0, 1.0, None),
        "ws_update_interval": (1.0, 1.0, None),
        "audit_interval": (3600.0, 3600.0, None),
    }
    async with notifications(pg_dsn) as heard:
        changed = await admin.patch(
            "/admin/settings", json={"orderbook_levels": 10, "ws_update_interval": "0.25"}
        )
        await eventually(lambda: heard, within=5, what="a NOTIFY")
    assert changed.status_code == 200
    assert _values(changed.json()) == {
        "orderbook_levels": (10, 20, 10),
        "orderbook_store_interval": (1.0, 1.0, None),
        "ws_update_interval": (0.25, 1.0, 0.25),
        "audit_interval": (3600.0, 3600.0, None),
    }
    assert heard[0] == {"change": "settings"}
    assert _values((await admin.get("/admin/settings")).json()) == _values(changed.json())
    assert sorted(await clean_db.fetch("SELECT name, value FROM control_settings")) == [
        ("orderbook_levels", "10"),
        ("ws_update_interval", "0.25"),
    ]
    (entry,) = await audit_rows(clean_db)
    assert (entry["action"], entry["target"], entry["detail"]) == (
        "settings_changed",
        "settings",
        {
            "orderbook_levels": {"from": 20, "to": 10},
            "ws_update_interval": {"from": 1.0, "to": 0.25},
        },
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"orderbook_levels": 10, "book_depth": 5}, "unknown setting 'book_depth'"),
        ({"orderbook_levels": 10, "audit_interval": -1}, "audit_interval must be 0 or more"),
        ({"orderbook_levels": 0}, "orderbook_levels must be one of 5, 10, 20"),
        ({"orderbook_levels": 7}, "orderbook_levels must be one of 5, 10, 20"),
        ({"orderbook_levels": 10.5}, "orderbook_levels must be an integer"),
        ({"ws_update_interval": "NaN"}, "ws_update_interval must be finite"),
        ({"ws_update_interval": True}, "ws_update_interval must be a number"),
        ({"ws_update_interval": None}, "ws_update_interval must be a number"),
        ({}, "no setting given"),
        ([["orderbook_levels", 10]], "the body must be a JSON object"),
    ],
)
async def test_a_bad_settings_change_is_a_400_and_changes_none_of_them(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool, body: object, message: str
) -> None:
    await admin.patch("/admin/settings", json={"audit_interval": 60})
    before = await control_state(clean_db)
    response = await admin.patch("/admin/settings", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert await control_state(clean_db) == before


# Audit log


async def test_the_audit_log_pages_newest_first_by_id(
    admin: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    for interval in range(1, 6):
        await admin.patch("/admin/settings", json={"audit_interval": interval})
    first = await admin.get("/admin/audit", params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert [e["detail"]["audit_interval"]["to"] for e in page["entries"]] == [5.0, 4.0]
    entry = page["entries"][0]
    assert (entry["actor"], entry["address"], entry["action"]) == (
        ACTOR,
        "127.0.0.1",
        "settings_changed",
    )
    assert datetime.fromisoformat(entry["at"]) <= datetime.now(UTC)
    second = await admin.get("/admin/audit", params={"limit": 2, "before": page["next_before"]})
    third = await admin.get("/admin/audit", params={"before": second.json()["next_before"]})
    assert [e["detail"]["audit_interval"]["to"] for e in second.json()["entries"]] == [3.0, 2.0]
    assert [e["detail"]["audit_interval"]["to"] for e in third.json()["entries"]] == [1.0]
    assert third.json()["next_before"] is None
    everything = (await admin.get("/admin/audit")).json()["entries"]
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "501"}, {"limit": "ten"}, {"before": "-1"}, {"before": "0"}],
)
async def test_a_bad_audit_page_is_a_400(admin: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await admin.get("/admin/audit", params=params)
    assert response.status_code == 400
    assert "error" in response.json()


# Restart


async def test_changes_survive_a_restart_of_the_api_server(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> None:
    first = make_app(admin_token=ADMIN_TOKEN)
    async with first.router.lifespan_context(first), admin_client(first) as admin:
        await _add(admin, **NEW_BYBIT)
        await admin.put("/admin/exchanges/okx", json={"enabled": False})
        await admin.patch("/admin/settings", json={"orderbook_store_interval": 2.5})
    second = make_app(admin_token=ADMIN_TOKEN)
    async with second.router.lifespan_context(second), admin_client(second) as admin:
        markets = (await admin.get("/admin/markets")).json()["markets"]
        exchanges = (await admin.get("/admin/exchanges")).json()["exchanges"]
        settings = _values((await admin.get("/admin/settings")).json())
    assert [(m["market"], m["collected"]) for m in markets] == [("bybit:linear:BTCUSDT", True)]
    assert [e["exchange"] for e in exchanges if not e["enabled"]] == ["okx"]
    assert settings["orderbook_store_interval"] == (2.5, 1.0, 2.5)
