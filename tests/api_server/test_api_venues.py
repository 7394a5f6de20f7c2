"""Markets of several venues side by side: the same symbol on Binance spot and on Bybit linear
is stored, rolled up, served over REST and streamed over the WebSocket separately; requests
that name no exchange get Binance spot as before, and a venue without trade counts gets
`"trades": null`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from api_helpers import (
    BYBIT_LINEAR,
    ServerFactory,
    closed_with,
    collector_message,
    minute,
    ready,
    receive,
    spot,
    store_minutes,
)
from redis.asyncio import Redis
from rollup_helpers import write_live
from websockets.asyncio.client import connect

from api_server.rollups import RollupMaintainer
from linkora_core import bus
from linkora_core.candles import Candle
from linkora_core.markets import Exchange, Kind, Market, Venue
from linkora_core.rollup_passes import roll_market
from linkora_core.timeframes import MINUTE_MS

BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) * 1000
BYBIT_BTC = Market(BYBIT_LINEAR, "BTCUSDT")
BYBIT = "exchange=bybit&kind=linear"
HOURS = 3


def _binance_minutes() -> list[Any]:
    return [minute(BASE + i * MINUTE_MS, "100", "101", "99", "100.5") for i in range(HOURS * 60)]


def _bybit_minutes() -> list[Any]:
    # Bybit publishes no trade count (nor taker volumes): a minute with volume traded, one
    # without did not.
    return [
        uncounted(
            minute(
                BASE + i * MINUTE_MS,
                "200",
                "202",
                "198",
                "201",
                volume="0" if i % 10 == 9 else "3",
            )
        )
        for i in range(HOURS * 60)
    ]


def uncounted(candle: Candle) -> Candle:
    return replace(candle, trades=None, taker_buy_volume=None, taker_buy_quote_volume=None)


async def _book(db: asyncpg.Pool, venue: str, symbol: str, price: str) -> None:
    await db.execute(
        "INSERT INTO orderbook_data (venue, symbol, captured_at, last_update_id, bid_prices, "
        "bid_quantities, ask_prices, ask_quantities) VALUES ($1, $2, $3, 9, $4, $5, $6, $7)",
        venue,
        symbol,
        datetime.fromtimestamp(BASE / 1000, UTC),
        [price],
        ["1"],
        [price],
        ["2"],
    )


@pytest.fixture
async def both(clean_db: asyncpg.Pool) -> asyncpg.Pool:
    """BTCUSDT on Binance spot (prices about 100, counted trades) and on Bybit linear (about
    200, no trade counts), three closed hours each and a book each; ETHUSDT on Bybit only."""
    await store_minutes(clean_db, "BTCUSDT", _binance_minutes())
    await store_minutes(clean_db, BYBIT_BTC, _bybit_minutes())
    await store_minutes(clean_db, Market(BYBIT_LINEAR, "ETHUSDT"), _bybit_minutes()[:5])
    await _book(clean_db, "binance-spot", "BTCUSDT", "100")
    await _book(clean_db, "bybit-linear", "BTCUSDT", "200")
    return clean_db


async def test_candles_of_the_same_symbol_on_two_venues_are_served_separately(
    both: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    for _ in ("aggregated from the minutes", "read from stored rollups"):
        for timeframe in ("1", "5", "1H"):
            binance = (await client.get(f"/candles?symbol=BTCUSDT&timeframe={timeframe}")).json()
            bybit = await client.get(f"/candles?symbol=btcusdt&timeframe={timeframe}&{BYBIT}")
            assert bybit.status_code == 200
            assert {c["open_price"] for c in binance} == {"100"}
            assert all(type(c["trades"]) is int for c in binance)
            assert {c["open_price"] for c in bybit.json()} == {"200"}
            assert {c["trades"] for c in bybit.json()} == {None}
            assert {c["taker_buy_volume"] for c in bybit.json()} == {None}
            assert b'"trades":null' in bybit.content
            assert b'"taker_buy_quote_volume":null}' in bybit.content
        hourly = (await client.get(f"/candles?symbol=BTCUSDT&timeframe=1H&{BYBIT}")).json()
        assert [c["volume"] for c in hourly] == ["162"] * HOURS  # 54 of 60 minutes traded 3
        await roll_market(both, spot("BTCUSDT"))
        await roll_market(both, BYBIT_BTC)
    rolled_counts = await both.fetch(
        "SELECT venue, count(*), count(trades) FROM candle_rollups WHERE symbol = 'BTCUSDT' "
        "AND timeframe = '1H' GROUP BY venue ORDER BY venue"
    )
    assert [tuple(r) for r in rolled_counts] == [("binance-spot", 3, 3), ("bybit-linear", 3, 0)]


async def test_a_venue_page_links_to_its_next_page_on_the_same_venue(
    both: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    page = await client.get(f"/candles?symbol=BTCUSDT&timeframe=5&limit=2&{BYBIT}")
    link = page.headers["Link"]
    assert link.startswith("</candles?exchange=bybit&kind=linear&symbol=BTCUSDT&timeframe=5")
    following = await client.get(link[1 : link.index(">")])
    assert {c["open_price"] for c in following.json()} == {"200"}
    binance = await client.get("/candles?symbol=BTCUSDT&timeframe=5&limit=2")
    assert binance.headers["Link"].startswith("</candles?symbol=BTCUSDT&timeframe=5&limit=2&")


async def test_price_and_orderbook_name_the_venue_only_when_it_is_not_binance_spot(
    both: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    binance = (await client.get("/price?symbol=BTCUSDT")).json()
    bybit = (await client.get(f"/price?symbol=BTCUSDT&{BYBIT}")).json()
    assert "exchange" not in binance and binance["current_price"] == "100.5"
    assert (bybit["exchange"], bybit["kind"], bybit["current_price"]) == ("bybit", "linear", "201")
    book = await client.get("/orderbook?symbol=BTCUSDT")
    assert book.content.startswith(b'{"symbol":"BTCUSDT","timestamp":')
    assert book.json()["bids"] == [{"price": "100", "quantity": "1"}]
    other = (await client.get("/orderbook?symbol=BTCUSDT&exchange=BYBIT&kind=Linear")).json()
    assert (other["exchange"], other["kind"]) == ("bybit", "linear")
    assert other["bids"] == [{"price": "200", "quantity": "1"}]
    missing = await client.get("/orderbook?symbol=BTCUSDT&exchange=okx")
    assert missing.status_code == 404


async def test_symbols_are_listed_per_venue(both: asyncpg.Pool, client: httpx.AsyncClient) -> None:
    assert (await client.get("/symbols")).content == b'{"symbols":["BTCUSDT"]}'
    assert (await client.get(f"/symbols?{BYBIT}")).json() == {"symbols": ["BTCUSDT", "ETHUSDT"]}
    assert (await client.get("/symbols?exchange=bybit")).json() == {"symbols": []}  # its spot
    assert (await client.get("/symbols?exchange=Binance&kind=SPOT")).json() == {
        "symbols": ["BTCUSDT"]
    }


async def test_udf_serves_a_venue_named_by_exchange_and_kind(
    both: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    info = await client.get(f"/udf/symbols?symbol=ETHUSDT&{BYBIT}")
    assert info.status_code == 200 and info.json()["name"] == "ETHUSDT"
    assert (await client.get("/udf/symbols?symbol=ETHUSDT")).status_code == 404
    found = (await client.get(f"/udf/search?query=ETH&{BYBIT}")).json()
    assert [f["symbol"] for f in found] == ["ETHUSDT"]
    bars = (
        await client.get(
            f"/udf/history?symbol=BTCUSDT&resolution=60&from={BASE // 1000}"
            f"&to={BASE // 1000 + 86_400}&{BYBIT}"
        )
    ).json()
    assert bars["s"] == "ok" and set(bars["o"]) == {200}


async def test_udf_tickers_of_other_venues_name_the_venue_and_resolve_back(
    both: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    found = (await client.get("/udf/search?query=BTC&exchange=bybit&kind=linear")).json()
    assert [f["ticker"] for f in found] == ["BYBIT-LINEAR:BTCUSDT"]
    binance = (await client.get("/udf/search?query=BTC")).json()
    assert [f["ticker"] for f in binance] == ["BTCUSDT"]
    info = (await client.get("/udf/symbols?symbol=BYBIT-LINEAR:BTCUSDT")).json()
    assert (info["name"], info["ticker"]) == ("BTCUSDT", "BYBIT-LINEAR:BTCUSDT")
    bars = (
        await client.get(
            f"/udf/history?symbol=bybit-linear:BTCUSDT&resolution=60&from={BASE // 1000}"
            f"&to={BASE // 1000 + 86_400}"
        )
    ).json()
    assert set(bars["o"]) == {200}
    unknown = await client.get("/udf/symbols?symbol=KRAKEN-SPOT:BTCUSDT")
    assert (unknown.status_code, unknown.json()) == (400, {"error": "Invalid symbol"})


@pytest.mark.parametrize(
    "path",
    [
        "/candles?symbol=BTCUSDT",
        "/price?symbol=BTCUSDT",
        "/orderbook?symbol=BTCUSDT",
        "/symbols",
        "/udf/symbols?symbol=BTCUSDT",
        "/udf/search?query=BTC",
        "/udf/history?symbol=BTCUSDT&resolution=60&from=0&to=1",
    ],
)
@pytest.mark.parametrize(
    ("venue", "problem"),
    [
        ("exchange=kraken", "unknown exchange 'kraken'"),
        ("exchange=bybit&kind=swap", "unknown kind 'swap' for bybit"),
        ("kind=linear", "a market kind needs an exchange"),
        ("exchange=" + "x" * 100, "unknown exchange"),
    ],
)
async def test_a_bad_exchange_or_kind_is_a_400_naming_it(
    client: httpx.AsyncClient, path: str, venue: str, problem: str
) -> None:
    answer = await client.get(f"{path}&{venue}" if "?" in path else f"{path}?{venue}")
    assert answer.status_code == 400
    body = answer.json()
    assert (body.get("error") or body.get("errmsg")).startswith(problem)


async def test_symbols_of_other_venues_may_hold_their_exchange_spelling(
    clean_db: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    okx = Market(Venue(Exchange.OKX, Kind.SWAP), "BTC-USDT-SWAP")
    await store_minutes(clean_db, okx, _bybit_minutes()[:3])
    answer = await client.get("/candles?symbol=btc-usdt-swap&exchange=okx&kind=swap")
    assert len(answer.json()) == 3
    assert (await client.get("/symbols?exchange=OKX&kind=swap")).json() == {
        "symbols": ["BTC-USDT-SWAP"]
    }
    bad = await client.get("/candles?symbol=BTC-&exchange=okx&kind=swap")
    assert (bad.status_code, bad.json()) == (400, {"error": "Invalid symbol"})
    binance = await client.get("/candles?symbol=BTC-USDT")
    assert (binance.status_code, binance.json()) == (400, {"error": "Invalid symbol"})


async def test_the_maintainer_consumes_each_venues_change_log_separately(
    clean_db: asyncpg.Pool,
) -> None:
    await write_live(clean_db, "BTCUSDT", _binance_minutes())
    await write_live(clean_db, BYBIT_BTC, _bybit_minutes())
    maintainer = RollupMaintainer("unused")
    await maintainer.cycle(clean_db)
    assert await clean_db.fetchval("SELECT count(*) FROM candle_changes") == 0
    rows = await clean_db.fetch(
        "SELECT venue, open_price, trades FROM candle_rollups WHERE timeframe = '1H' "
        "ORDER BY venue, open_time"
    )
    assert [(r[0], str(r[1]), r[2]) for r in rows][::3] == [
        ("binance-spot", "100", 60),
        ("bybit-linear", "200", None),
    ]
    assert len(rows) == 2 * HOURS


async def test_a_bybit_subscriber_gets_only_bybit_messages_naming_the_venue(
    live_server: ServerFactory, redis: Redis, clean_db: asyncpg.Pool
) -> None:
    app, url = await live_server(ws_update_interval=0)
    binance_minute = minute(BASE, "100", "101", "99", "100.5")
    bybit_minute = minute(BASE, "200", "202", "198", "201", volume="3", trades=None)
    bybit_all, bybit_own = bus.candle_channels(BYBIT_BTC)
    async with (
        connect(f"{url}/ws?symbol=BTCUSDT&timeframe=1&exchange=Bybit&kind=LINEAR") as bybit,
        connect(f"{url}/ws?symbol=BTCUSDT&timeframe=5") as binance,
        connect(f"{url}/ws?symbol=all&timeframe=1&exchange=bybit&kind=linear") as every_bybit,
    ):
        for ws in (bybit, binance, every_bybit):
            await ready(app, ws)
        await redis.publish(
            "candles:all", collector_message("BTCUSDT", binance_minute, closed=True)
        )
        await redis.publish(bybit_all, collector_message(BYBIT_BTC, bybit_minute, closed=True))
        got = await receive(bybit)
        everything = await receive(every_bybit)
        raw_binance = await binance.recv()
        with pytest.raises(TimeoutError):
            await receive(bybit, within=0.3)
    assert (bybit_all, bybit_own) == ("candles:bybit-linear:all", "candles:bybit-linear:BTCUSDT")
    assert got == everything
    assert list(got)[:3] == ["exchange", "kind", "symbol"]
    assert (got["exchange"], got["kind"], got["open"], got["trades"]) == (
        "bybit",
        "linear",
        "200",
        None,
    )
    assert isinstance(raw_binance, str) and raw_binance.startswith('{"symbol":"BTCUSDT",')
    assert orjson.loads(raw_binance)["open"] == "100"


async def test_a_bybit_five_minute_bucket_without_trade_counts_streams_trades_null(
    live_server: ServerFactory, redis: Redis, clean_db: asyncpg.Pool
) -> None:
    app, url = await live_server(ws_update_interval=0)
    minutes = _bybit_minutes()[:5]
    await store_minutes(clean_db, BYBIT_BTC, minutes[:2])
    channel = bus.candle_channels(BYBIT_BTC)[0]
    async with connect(f"{url}/ws?symbol=BTCUSDT&timeframe=5&{BYBIT}") as ws:
        await ready(app, ws)
        for m in minutes[2:]:
            await redis.publish(channel, collector_message(BYBIT_BTC, m, closed=True))
        received = [await receive(ws) for _ in range(3)]
    last = received[-1]
    assert (last["closed"], last["volume"], last["trades"]) == (True, "15", None)
    assert last["taker_buy_volume"] is None is last["taker_buy_quote_volume"]
    assert {m["exchange"] for m in received} == {"bybit"}


async def test_orderbooks_are_routed_by_venue(live_server: ServerFactory, redis: Redis) -> None:
    app, url = await live_server()
    book = {"symbol": "BTCUSDT", "timestamp": BASE, "last_update_id": 5, "bids": [], "asks": []}
    bybit_book = {"exchange": "bybit", "kind": "linear", **book, "last_update_id": 6}
    async with (
        connect(f"{url}/ws?type=orderbook&symbol=BTCUSDT") as binance,
        connect(f"{url}/ws?type=orderbook&symbol=BTCUSDT&{BYBIT}") as bybit,
    ):
        await ready(app, binance)
        await ready(app, bybit)
        await redis.publish(bus.orderbook_channels(BYBIT_BTC)[0], orjson.dumps(bybit_book))
        await redis.publish("orderbook:all", orjson.dumps(book))
        assert await receive(bybit) == {**bybit_book, "seq": 6}
        assert await receive(binance) == {**book, "seq": 5}
        with pytest.raises(TimeoutError):
            await receive(bybit, within=0.3)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("exchange=kraken", "unknown exchange 'kraken'"),
        ("exchange=okx&kind=linear", "unknown kind 'linear' for okx"),
        ("kind=usdm", "a market kind needs an exchange"),
        ("exchange=okx&symbol=BTC-", "Invalid symbol: BTC-"),
    ],
)
async def test_a_bad_venue_closes_the_websocket_with_1008_and_the_reason(
    live_server: ServerFactory, query: str, reason: str
) -> None:
    _, url = await live_server()
    async with connect(f"{url}/ws?{query}") as ws:
        code, text = await closed_with(ws)
    assert code == 1008 and text.startswith(reason)


async def test_a_subscribe_message_may_name_a_venue(
    live_server: ServerFactory, redis: Redis
) -> None:
    app, url = await live_server(ws_update_interval=0)
    async with connect(f"{url}/ws?symbol=ETHUSDT") as ws:
        await ws.send(
            '{"type":"subscribe","stream":"candles","symbol":"BTCUSDT","timeframe":"1",'
            '"exchange":"bybit","kind":"linear"}'
        )
        await ws.send('{"type":"subscribe","stream":"candles","exchange":"nope"}')
        assert (await receive(ws))["error"].startswith("unknown exchange 'nope'")
        for odd in ('"exchange":["okx"]', '"kind":5', '"exchange":{"x":1}'):
            await ws.send('{"type":"subscribe","stream":"candles","symbol":"BTCUSDT",' + odd + "}")
            assert await receive(ws) == {"type": "error", "error": "Invalid exchange or kind"}
        await ready(app, ws)
        m = minute(BASE, "200", "202", "198", "201", volume="3", trades=None)
        await redis.publish(
            bus.candle_channels(BYBIT_BTC)[0], collector_message(BYBIT_BTC, m, closed=True)
        )
        got = await receive(ws)
    assert (got["exchange"], got["symbol"]) == ("bybit", "BTCUSDT")
