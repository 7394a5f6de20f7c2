"""Read-only WebSocket commands (`status`, `list`, `help`) against a real uvicorn over the
test database, what an unknown command or a bad subscribe answers, and the runtime
`ws_update_interval` (control_settings, picked up on NOTIFY) applied without a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest
from api_helpers import ServerFactory, closed_with, collector_message, minute, ready, receive
from redis.asyncio import Redis
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection, connect

from linkora_core import control_store
from linkora_core.markets import Exchange, Kind, Market, Venue
from linkora_core.timeframes import Timeframe
from tests.polling import eventually

BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) * 1000


async def command(ws: ClientConnection, name: object) -> dict[str, Any]:
    await ws.send(orjson.dumps({"type": "command", "data": name}))
    return await receive(ws)


@pytest.fixture
async def desired_state(clean_db: asyncpg.Pool) -> asyncpg.Pool:
    """Bybit linear BTCUSDT backfilling, Binance spot ETHUSDT added (no collector state yet),
    an OKX market removed, a WhiteBIT market on a disabled exchange, and a market a collector
    keeps state for that the desired state never named (Binance spot BNBUSDT)."""
    await clean_db.executemany(
        "INSERT INTO control_markets (venue, symbol, added_by, removed_at)"
        " VALUES ($1, $2, 'test', $3)",
        [
            ("bybit-linear", "BTCUSDT", None),
            ("binance-spot", "ETHUSDT", None),
            ("okx-spot", "BTC-USDT", datetime.now(UTC)),
            ("whitebit-spot", "BTC_USDT", None),
        ],
    )
    await clean_db.execute(
        "INSERT INTO control_exchanges (exchange, enabled) VALUES ('whitebit', false)"
    )
    await clean_db.executemany(
        "INSERT INTO collector_state (venue, symbol, phase, backfill_done, backfill_total)"
        " VALUES ($1, $2, $3, $4, $5)",
        [
            ("bybit-linear", "BTCUSDT", "backfill", 10, 100),
            ("binance-spot", "BNBUSDT", "realtime", 60, 60),
            ("okx-spot", "BTC-USDT", "realtime", 5, 5),
        ],
    )
    return clean_db


def entry(exchange: str, kind: str, symbol: str, phase: str, done: int, total: int) -> object:
    return {
        "exchange": exchange,
        "kind": kind,
        "symbol": symbol,
        "market": f"{exchange}:{kind}:{symbol}",
        "phase": phase,
        "backfill_done": done,
        "backfill_total": total,
    }


async def catalog(app: Starlette, count: int, within: float = 10) -> None:
    control = app.state.ws.control
    await eventually(lambda: len(control.markets) == count, within, what=f"{count} markets read")


async def test_list_names_the_markets_collected_with_their_phase_and_the_timeframes(
    live_server: ServerFactory, desired_state: asyncpg.Pool
) -> None:
    app, url = await live_server()
    await catalog(app, 3)
    async with connect(f"{url}/ws") as ws:
        answer = await command(ws, "list")
    assert answer["type"] == "list"
    assert answer["data"]["markets"] == [
        entry("binance", "spot", "BNBUSDT", "realtime", 60, 60),
        entry("binance", "spot", "ETHUSDT", "pending", 0, 0),
        entry("bybit", "linear", "BTCUSDT", "backfill", 10, 100),
    ]
    assert answer["data"]["timeframes"] == [t.value for t in Timeframe]
    assert answer["data"]["streams"] == ["candles", "orderbook", "progress", "system"]


async def test_a_market_added_shows_in_the_list_on_the_notify_not_the_next_round(
    live_server: ServerFactory, desired_state: asyncpg.Pool
) -> None:
    app, url = await live_server()
    await catalog(app, 3)
    control = app.state.ws.control
    control.every = 3600.0  # from the next wait on, only a NOTIFY wakes the watch
    okx_swap = Venue(Exchange.OKX, Kind.SWAP)
    for count, symbol in ((4, "ETH-USDT-SWAP"), (5, "BTC-USDT-SWAP")):
        async with desired_state.acquire() as connection, connection.transaction():
            assert await control_store.add_market(connection, Market(okx_swap, symbol), None, "t")
        await catalog(app, count, within=2)
    async with connect(f"{url}/ws") as ws:
        names = [m["market"] for m in (await command(ws, "list"))["data"]["markets"]]
    assert {"okx:swap:ETH-USDT-SWAP", "okx:swap:BTC-USDT-SWAP"} <= set(names)


async def test_status_tells_clients_this_connections_subscriptions_markets_and_uptime(
    live_server: ServerFactory, desired_state: asyncpg.Pool
) -> None:
    app, url = await live_server()
    await catalog(app, 3)
    async with (
        connect(f"{url}/ws?symbol=BTCUSDT&timeframe=5") as ws,
        connect(f"{url}/ws?type=orderbook") as other,
    ):
        await ready(app, other)
        await ws.send('{"type":"subscribe","stream":"progress","exchange":"bybit","kind":"linear"}')
        await ws.send('{"type":"subscribe","stream":"system"}')
        answer = await command(ws, "status")
    assert answer["type"] == "status"
    data = answer["data"]
    assert data["clients"] == 2 and data["markets"] == 3 and data["backfilling"] == 0
    assert data["subscriptions"] == [
        {"stream": "candles", "exchange": "binance", "kind": "spot", "symbol": "BTCUSDT",
         "timeframe": "5"},
        {"stream": "progress", "exchange": "bybit", "kind": "linear", "symbol": "all"},
        {"stream": "system"},
    ]  # fmt: skip
    assert isinstance(data["uptime_seconds"], int) and 0 <= data["uptime_seconds"] < 60
    assert data["live_feed"] == "subscribed" and data["update_interval"] == 1.0


async def test_help_lists_the_commands_and_every_message_type(live_server: ServerFactory) -> None:
    _, url = await live_server()
    async with connect(f"{url}/ws") as ws:
        answer = await command(ws, "help")
    assert answer["type"] == "help"
    data = answer["data"]
    assert set(data["commands"]) == {"status", "list", "help"}
    assert {"subscribe", "unsubscribe", "ping", "command"} <= set(data["client_messages"])
    assert {"progress", "system", "market_removed", "heartbeat", "error"} <= set(
        data["server_messages"]
    )


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("reload", "Unknown command: reload (one of help, list, status)"),
        ("x" * 100, f"Unknown command: {'x' * 40} (one of help, list, status)"),
        (None, "Invalid command: data must be one of help, list, status"),
        (["status"], "Invalid command: data must be one of help, list, status"),
    ],
)
async def test_an_unknown_command_is_an_error_and_the_connection_stays(
    live_server: ServerFactory, name: object, error: str
) -> None:
    app, url = await live_server()
    async with connect(f"{url}/ws") as ws:
        assert await command(ws, name) == {"type": "error", "error": error}
        await ready(app, ws)


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        ({"stream": "trades"}, "Invalid type: trades"),
        ({"stream": "progress", "kind": "linear"}, "Invalid exchange or kind: a market kind needs"),
        ({"stream": "progress", "exchange": "kraken"}, "unknown exchange 'kraken'"),
        ({"stream": "progress", "exchange": "bybit", "symbol": "b@d"}, "Invalid symbol: B@D"),
        ({"stream": "progress", "exchange": 7}, "Invalid exchange or kind"),
        ({"stream": "system", "timeframe": "7"}, "Invalid timeframe: 7"),
    ],
)  # fmt: skip
async def test_a_bad_subscribe_is_an_error_that_subscribes_nothing(
    live_server: ServerFactory, request_: dict[str, Any], error: str
) -> None:
    _, url = await live_server()
    async with connect(f"{url}/ws") as ws:
        await ws.send(orjson.dumps({"type": "subscribe", **request_}))
        answer = await receive(ws)
        assert answer["type"] == "error" and answer["error"].startswith(error)
        status = await command(ws, "status")
    assert [s["stream"] for s in status["data"]["subscriptions"]] == ["candles"]  # the query's


@pytest.mark.parametrize("query", ["type=progress&kind=swap", "type=progress&exchange=kraken"])
async def test_a_bad_progress_query_closes_with_1008(
    live_server: ServerFactory, query: str
) -> None:
    _, url = await live_server()
    async with connect(f"{url}/ws?{query}") as ws:
        assert (await closed_with(ws))[0] == 1008


async def test_the_update_interval_changed_at_runtime_applies_without_a_restart(
    live_server: ServerFactory, redis: Redis, clean_db: asyncpg.Pool
) -> None:
    app, url = await live_server(ws_update_interval=0)
    feed = app.state.live_feed
    async with connect(f"{url}/ws?symbol=all&timeframe=1H") as ws:
        await ready(app, ws)

        async def burst(first_volume: int) -> None:
            for volume in range(first_volume, first_volume + 20):
                m = minute(BASE, "10", "11", "9", "10", volume=str(volume))
                await redis.publish("candles:all", collector_message("SOLUSDT", m, closed=False))

        await burst(1)  # every change goes out while the interval is 0
        assert [(await receive(ws))["volume"] for _ in range(20)] == [str(v) for v in range(1, 21)]

        async with clean_db.acquire() as connection, connection.transaction():
            await control_store.set_setting(connection, "ws_update_interval", 0.5)
        await eventually(lambda: feed.update_interval == 0.5, 2, what="the new interval")
        await burst(21)
        throttled = [await receive(ws, within=2)]
        while throttled[-1]["volume"] != "40":
            throttled.append(await receive(ws, within=2))
        # One update per interval for the twenty (two if the burst straddled a flush).
        assert len(throttled) <= 2
        with pytest.raises(TimeoutError):
            await receive(ws, within=0.7)

        async with clean_db.acquire() as connection, connection.transaction():
            await control_store.set_setting(connection, "ws_update_interval", 0)
        await eventually(lambda: feed.update_interval == 0, 2, what="the interval back at 0")
        await burst(41)
        assert [(await receive(ws))["volume"] for _ in range(20)] == [str(v) for v in range(41, 61)]
    assert app.state.tasks.restarts == {name: 0 for name in app.state.tasks.restarts}
