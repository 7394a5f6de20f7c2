"""A market removed (`bus.CONTROL` event `market_removed`, as the admin API publishes it after
its change is committed) against a real uvicorn, under the api-server's protocol and under
uvicorn's own: a client subscribed to one of the market's topics is told, its subscriptions of
that market end, and a client left with none is closed (1000, "market removed"); subscribers
of other markets and of the venue's `all` carry on. And the whole way, from `DELETE
/admin/markets/...` to the close. And without the event (its publish lost, an exchange
switched off): the api-server's re-read of the collected markets ends them the same way."""

from __future__ import annotations

import asyncpg
import httpx
import orjson
import pytest
from api_helpers import ServerFactory, closed_with, ready, receive
from redis.asyncio import Redis
from starlette.applications import Starlette
from websockets.asyncio.client import connect

from api_server.ws_protocol import UVICORN_OPTIONS
from linkora_core import bus, control_store, progress_messages
from linkora_core.markets import Exchange, Kind, Market, Venue
from linkora_core.progress_messages import ProgressReport
from tests.polling import eventually

VENUE = "exchange=bybit&kind=linear"
TOKEN = "ws-market-removed-test-token-0123"
BTC = Market(Venue(Exchange.BYBIT, Kind.LINEAR), "BTCUSDT")
EVENT = orjson.dumps(
    {
        "event": "market_removed",
        "market": "bybit:linear:BTCUSDT",
        "exchange": "bybit",
        "kind": "linear",
        "symbol": "BTCUSDT",
    }
)
NOTICE = {
    "type": "market_removed",
    "market": "bybit:linear:BTCUSDT",
    "exchange": "bybit",
    "kind": "linear",
    "symbol": "BTCUSDT",
    "message": "bybit:linear:BTCUSDT is no longer collected",
}


def book(symbol: str) -> bytes:
    return orjson.dumps(
        {
            "exchange": "bybit",
            "kind": "linear",
            "symbol": symbol,
            "timestamp": 1,
            "last_update_id": 1,
            "bids": [],
            "asks": [],
        }
    )


@pytest.mark.parametrize("protocol", ["frame-writer", "plain-asgi"])
async def test_subscribers_of_a_removed_market_are_told_and_closed_when_nothing_is_left(
    live_server: ServerFactory, redis: Redis, protocol: str
) -> None:
    ws_protocol = UVICORN_OPTIONS["ws"] if protocol == "frame-writer" else "websockets-sansio"
    app, url = await live_server(ws=ws_protocol)
    async with (
        connect(f"{url}/ws?{VENUE}&symbol=BTCUSDT&timeframe=5") as candles,
        connect(f"{url}/ws?{VENUE}&type=progress&symbol=BTCUSDT") as progress,
        connect(f"{url}/ws?{VENUE}&type=orderbook&symbol=BTCUSDT") as both,
        connect(f"{url}/ws?{VENUE}&type=orderbook&symbol=all") as venue_all,
        connect(f"{url}/ws?type=progress") as every,
    ):
        await both.send(
            '{"type":"subscribe","stream":"orderbook","exchange":"bybit","kind":"linear",'
            '"symbol":"ETHUSDT"}'
        )
        for ws in (candles, progress, both, venue_all, every):
            await ready(app, ws)
        await redis.publish(bus.CONTROL, EVENT)
        for ws in (candles, progress):
            assert await receive(ws) == NOTICE
            assert await closed_with(ws) == (1000, "market removed")
        assert await receive(both) == NOTICE
        # Those still subscribed to something carry on: the book of another market arrives,
        # the removed market's does not.
        await redis.publish("orderbook:bybit-linear:all", book("BTCUSDT"))
        await redis.publish("orderbook:bybit-linear:all", book("ETHUSDT"))
        assert (await receive(both))["symbol"] == "ETHUSDT"
        assert [(await receive(venue_all))["symbol"] for _ in range(2)] == ["BTCUSDT", "ETHUSDT"]
        # Every market's progress is not one of its topics: no notice, still subscribed.
        report = ProgressReport(BTC, "removed", "removed by an operator", 5, 10, 0, None)
        await redis.publish(bus.PROGRESS, progress_messages.encode(report))
        assert (await receive(every))["data"]["status"] == "removed"
    await eventually(lambda: app.state.hub.clients == 0, 5, what="every client gone")


async def test_another_event_or_a_malformed_one_changes_nothing(
    live_server: ServerFactory, redis: Redis
) -> None:
    app, url = await live_server()
    async with connect(f"{url}/ws?{VENUE}&type=orderbook&symbol=BTCUSDT") as ws:
        await ready(app, ws)
        await redis.publish(bus.CONTROL, b'{"event":"settings_changed"}')
        await redis.publish(bus.CONTROL, b"not json")
        await redis.publish(bus.CONTROL, b'{"event":"market_removed","exchange":"kraken"}')
        await redis.publish("orderbook:bybit-linear:all", book("BTCUSDT"))
        assert (await receive(ws))["symbol"] == "BTCUSDT"
    assert app.state.tasks.restarts["live-feed"] == 0


async def test_a_market_removed_through_the_admin_api_closes_its_subscribers(
    live_server: ServerFactory, clean_db: asyncpg.Pool
) -> None:
    await clean_db.execute(
        "INSERT INTO control_markets (venue, symbol, added_by) VALUES ('bybit-linear', 'BTCUSDT',"
        " 'test')"
    )
    app, url = await live_server(admin_token=TOKEN)
    async with connect(f"{url}/ws?{VENUE}&symbol=BTCUSDT&timeframe=1") as ws:
        await ready(app, ws)
        async with httpx.AsyncClient(base_url=url.replace("ws:", "http:")) as http:
            answer = await http.delete(
                "/admin/markets/bybit/linear/BTCUSDT",
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        assert answer.status_code == 200, answer.text
        assert await receive(ws) == NOTICE
        assert await closed_with(ws) == (1000, "market removed")


async def _collected(app: Starlette, market: Market) -> None:
    """Wait until the api-server's ControlWatch has read `market` as collected."""
    watch = app.state.ws.control
    await eventually(
        lambda: market in {m.market for m in watch.markets}, 10, what=f"{market} collected"
    )


async def test_a_market_removed_without_its_event_still_closes_its_subscribers(
    live_server: ServerFactory, clean_db: asyncpg.Pool
) -> None:
    # The admin API's Redis publish lost: only the database says the market went.
    await control_store.seed_markets(clean_db, [BTC], "test")
    app, url = await live_server()
    async with connect(f"{url}/ws?{VENUE}&type=orderbook&symbol=BTCUSDT") as ws:
        await ready(app, ws)
        await _collected(app, BTC)
        async with clean_db.acquire() as connection, connection.transaction():
            assert await control_store.remove_market(connection, BTC)
        assert await receive(ws) == NOTICE
        assert await closed_with(ws) == (1000, "market removed")


async def test_an_exchange_switched_off_closes_its_markets_subscribers(
    live_server: ServerFactory, clean_db: asyncpg.Pool, redis: Redis
) -> None:
    spot_btc = Market(Venue(Exchange.BINANCE, Kind.SPOT), "BTCUSDT")
    await control_store.seed_markets(clean_db, [BTC, spot_btc], "test")
    app, url = await live_server(admin_token=TOKEN)
    async with (
        connect(f"{url}/ws?{VENUE}&type=orderbook&symbol=BTCUSDT") as bybit,
        connect(f"{url}/ws?exchange=binance&kind=spot&type=orderbook&symbol=BTCUSDT") as binance,
    ):
        for ws in (bybit, binance):
            await ready(app, ws)
        await _collected(app, BTC)
        # Switching an exchange off publishes no market_removed: the re-read must see it.
        async with httpx.AsyncClient(base_url=url.replace("ws:", "http:")) as http:
            answer = await http.put(
                "/admin/exchanges/bybit",
                json={"enabled": False},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        assert answer.status_code == 200, answer.text
        assert await receive(bybit) == NOTICE
        assert await closed_with(bybit) == (1000, "market removed")
        # The other exchange's subscriber carries on.
        spot_book = orjson.loads(book("BTCUSDT")) | {"exchange": "binance", "kind": "spot"}
        await redis.publish(bus.ORDERBOOK_ALL, orjson.dumps(spot_book))
        assert (await receive(binance))["symbol"] == "BTCUSDT"
