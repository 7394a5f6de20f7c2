"""The chart page's exchange selector in Debian's headless Chromium against the offline
platform: a second venue (Bybit linear, a market no simulator lists, written straight into the
platform's database with its collector state and book) is offered beside Binance spot; selecting
it draws its candles, names it in the title, legend and address, and follows its live candles
(published on its Redis channel) over a WebSocket that names the venue; Binance spot's requests
name no exchange; switching back shows Binance again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import orjson
import pytest
from playwright.async_api import Browser, Page, Request, WebSocket
from redis.asyncio import Redis

from linkora_core import bus
from linkora_core.markets import VENUES, Exchange, Kind, Market, Venue

BYBIT_LINEAR = Venue(Exchange.BYBIT, Kind.LINEAR)
# No simulator lists it, so the platform's own collection never writes it.
SYMBOL = "LKRUSDT"
MARKET = Market(BYBIT_LINEAR, SYMBOL)
MINUTES = 90
VENUE_QUERY = "exchange=bybit&kind=linear"
VENUE_ORDER = [venue.key for venue in VENUES]
MARKET_PATHS = frozenset({"/candles", "/price", "/orderbook", "/symbols", "/udf/marks"})


def _minute_prices(i: int) -> tuple[str, str, str, str]:
    """Open, high, low, close of the i-th inserted minute: about 1,234 USD, far from what the
    simulator's BTCUSDT and ETHUSDT trade at, with cents that survive a float."""
    open_ = Decimal(1230) + Decimal(i % 9) + Decimal("0.25")
    close = open_ + (Decimal("1.5") if i % 2 else Decimal("-1.25"))
    return str(open_), str(max(open_, close) + 2), str(min(open_, close) - 1), str(close)


def _dsn(env: dict[str, str]) -> str:
    return (
        f"postgresql://{env['DB_USER']}:{env['DB_PASSWORD']}@{env['DB_HOST']}:{env['DB_PORT']}"
        f"/{env['DB_NAME']}"
    )


@pytest.fixture(scope="module")
async def second_venue(running_platform: dict[str, Any]) -> AsyncIterator[list[dict[str, Any]]]:
    """MINUTES closed minutes of LKRUSDT on Bybit linear up to the last one, no trade counts (as
    Bybit publishes none), its collector state (realtime, fresh) and one book; removed after.
    Answers the inserted minutes (time in seconds, prices as strings)."""
    pool = await asyncpg.create_pool(_dsn(running_platform["env"]), min_size=1, max_size=2)
    assert pool is not None
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    first = now - timedelta(minutes=MINUTES)
    rows = []
    for i in range(MINUTES):
        open_, high, low, close = _minute_prices(i)
        rows.append((first + timedelta(minutes=i), open_, high, low, close))
    try:
        await pool.executemany(
            "INSERT INTO candles (venue, symbol, open_time, open_price, high_price, low_price,"
            " close_price, volume, quote_volume, trades, taker_buy_volume,"
            " taker_buy_quote_volume, is_closed) VALUES ('bybit-linear', 'LKRUSDT', $1,"
            " $2, $3, $4, $5, 3, 3700, NULL, NULL, NULL,"
            " true)",
            [(at, *(Decimal(p) for p in prices)) for at, *prices in rows],
        )
        await pool.execute(
            "INSERT INTO collector_state (venue, symbol, phase, last_closed_minute, backfill_done,"
            " backfill_total) VALUES ('bybit-linear', 'LKRUSDT', 'realtime', $1, $2, $2)",
            now - timedelta(minutes=1),
            MINUTES,
        )
        await pool.execute(
            "INSERT INTO orderbook_data (venue, symbol, captured_at, last_update_id, bid_prices,"
            " bid_quantities, ask_prices, ask_quantities) VALUES ('bybit-linear', 'LKRUSDT',"
            " now(), 7, $1, $2, $3, $4)",
            [Decimal("1233.5"), Decimal("1233")],
            [Decimal("2"), Decimal("5")],
            [Decimal("1234"), Decimal("1234.5")],
            [Decimal("1.5"), Decimal("4")],
        )
        yield [{"time": int(row[0].timestamp()), "prices": row[1:]} for row in rows]
    finally:
        for table in ("candles", "candle_rollups", "orderbook_data", "collector_state"):
            await pool.execute(
                f"DELETE FROM {table} WHERE venue = 'bybit-linear' AND symbol = 'LKRUSDT'"
            )
        await pool.close()


@pytest.fixture
async def platform_redis(running_platform: dict[str, Any]) -> AsyncIterator[Redis]:
    env = running_platform["env"]
    client = Redis(host=env["REDIS_HOST"], port=int(env["REDIS_PORT"]))
    try:
        yield client
    finally:
        await client.aclose()


class Traffic:
    """What the page asked the api-server for: REST URLs and WebSocket URLs, in order."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.sockets: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("websocket", self._socket)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _socket(self, socket: WebSocket) -> None:
        self.sockets.append(socket.url)

    def mark(self) -> tuple[int, int]:
        return len(self.requests), len(self.sockets)

    def since(self, mark: tuple[int, int]) -> tuple[list[str], list[str]]:
        return self.requests[mark[0] :], self.sockets[mark[1] :]


def _api_requests(urls: list[str], paths: frozenset[str] = MARKET_PATHS) -> list[str]:
    """The page's market-data requests (not the page, its assets, its config or the order API)."""
    return [u for u in urls if urlsplit(u).path in paths]


async def _dataset(page: Page, name: str) -> str:
    return str(await page.evaluate(f"document.body.dataset.{name} || ''"))


async def _wait_loaded(page: Page, venue: str, symbol: str) -> None:
    await page.wait_for_function(
        f"document.body.dataset.loadedVenue === '{venue}'"
        f" && document.body.dataset.loadedSymbol === '{symbol}'",
        timeout=30_000,
    )


async def _candles(page: Page) -> list[dict[str, float]]:
    bars: list[dict[str, float]] = await page.evaluate("window.linkoraChart.candles()")
    return bars


def _expected(minutes: list[dict[str, Any]]) -> list[tuple[int, float, float, float, float]]:
    return [(m["time"], *(float(p) for p in m["prices"])) for m in minutes]


def _drawn(bars: list[dict[str, float]]) -> list[tuple[int, float, float, float, float]]:
    return [(int(b["time"]), b["open"], b["high"], b["low"], b["close"]) for b in bars]


@pytest.fixture
async def page(
    browser: Browser, running_platform: dict[str, Any], second_venue: list[dict[str, Any]]
) -> AsyncIterator[tuple[Page, Traffic]]:
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    traffic = Traffic(page)
    try:
        yield page, traffic
    finally:
        await page.close()
    assert traffic.errors == []


async def test_the_selector_offers_the_collected_venues_and_follows_the_selection(
    browser: Browser,
    page: tuple[Page, Traffic],
    running_platform: dict[str, Any],
    second_venue: list[dict[str, Any]],
    platform_redis: Redis,
    tmp_path: Path,
) -> None:
    chart, traffic = page
    base = running_platform["endpoints"]["api-server"]
    await chart.goto(base + "/?symbol=BTCUSDT")
    await chart.wait_for_selector("body[data-ready=true]", timeout=30_000)
    await _wait_loaded(chart, "binance-spot", "BTCUSDT")

    # Binance spot first and chosen; the inserted venue offered; every venue offered collected.
    options = await chart.eval_on_selector_all(
        "#venue option", "options => options.map(o => [o.value, o.textContent])"
    )
    assert options[0][0] == "binance-spot" and options[0][1].startswith("Binance spot")
    assert await chart.input_value("#venue") == "binance-spot"
    assert "bybit-linear" in [value for value, _ in options]
    assert len({value for value, _ in options}) == len(options)
    listing = await chart.request.get(base + "/exchanges")
    assert listing.ok
    collected = {
        f"{e['exchange']}-{k['kind']}"
        for e in (await listing.json())["exchanges"]
        for k in e["kinds"]
        if k["status"] != "not_collected"
    }
    assert [value for value, _ in options] == [
        "binance-spot",
        *sorted(collected - {"binance-spot"}, key=VENUE_ORDER.index),
    ]
    # Binance spot's requests are the ones the page made before venues existed.
    initial_rest, initial_sockets = traffic.since((0, 0))
    assert any(urlsplit(u).path == "/exchanges" for u in initial_rest)
    assert [u for u in initial_rest if u.endswith("/symbols")]
    named = _api_requests(initial_rest)
    assert named and not [u for u in named if "exchange=" in u or "kind=" in u]
    assert initial_sockets and not [u for u in initial_sockets if "exchange=" in u]
    assert "exchange=" not in chart.url and "symbol=BTCUSDT" in chart.url
    assert await chart.title() == "Linkora · BTCUSDT · Binance spot"
    binance = _drawn(await _candles(chart))
    assert binance and not 1000 < binance[-1][4] < 2000  # not the inserted prices

    # Bybit linear: its symbols, its candles, its book, named in the title, legend and address.
    mark = traffic.mark()
    await chart.select_option("#venue", "bybit-linear")
    await chart.wait_for_function("document.body.dataset.venue === 'bybit-linear'")
    symbols = await chart.eval_on_selector_all("#symbol option", "os => os.map(o => o.value)")
    assert SYMBOL in symbols
    if await chart.input_value("#symbol") != SYMBOL:  # the platform collects Bybit linear too
        await chart.select_option("#symbol", SYMBOL)
    await _wait_loaded(chart, "bybit-linear", SYMBOL)
    assert _drawn(await _candles(chart)) == _expected(second_venue)
    assert int(await _dataset(chart, "bars")) == MINUTES
    assert await chart.title() == f"Linkora · {SYMBOL} · Bybit linear"
    assert f"exchange=bybit&kind=linear&symbol={SYMBOL}&timeframe=1" in chart.url
    legend = await chart.locator("#legend").inner_text()
    last = second_venue[-1]["prices"]
    assert f"{SYMBOL} · Bybit linear" in legend
    assert await chart.locator("#legend-values [data-field=c]").inner_text() == f"C {last[3]}"
    assert await chart.locator("#legend-values [data-field=trades]").inner_text() == "Trades n/a"
    await chart.wait_for_function("document.body.dataset.bookVenue === 'bybit-linear'")
    assert await chart.locator("#bids td:first-child").all_inner_texts() == ["1233.5", "1233"]
    assert await chart.locator("#asks td:first-child").all_inner_texts() == ["1234.5", "1234"]
    await chart.wait_for_function(
        f"document.querySelector('#price').textContent.startsWith('{SYMBOL} {last[3]}')"
    )
    rest, sockets = traffic.since(mark)
    venue_rest = _api_requests(rest)
    for path in ("/symbols", "/candles", "/orderbook", "/price"):
        asked = [u for u in venue_rest if f"{path}?" in u]
        assert asked, path
        assert all(VENUE_QUERY in u for u in asked), asked
    candle_socket = f"{VENUE_QUERY}&symbol={SYMBOL}&timeframe=1&type=candles"
    assert [u for u in sockets if u.endswith(candle_socket)]
    assert [u for u in sockets if u.endswith(f"{VENUE_QUERY}&symbol={SYMBOL}&type=orderbook")]
    await chart.screenshot(path=str(tmp_path / "chart-bybit-linear.png"))

    # A live minute on the venue's channel reaches the chart and the legend.
    now_ms = int(datetime.now(UTC).timestamp()) // 60 * 60_000
    live = {
        "exchange": "bybit", "kind": "linear", "symbol": SYMBOL, "timestamp": now_ms,
        "open": "1301.25", "high": "1311", "low": "1296.5", "close": "1305.75", "volume": "4",
        "quote_volume": "5220", "trades": None, "timeframe": "1", "closed": False,
        "close_time": now_ms + 59_999, "taker_buy_volume": None, "taker_buy_quote_volume": None,
    }  # fmt: skip
    channel = bus.candle_channels(MARKET)[0]
    assert channel == "candles:bybit-linear:all"
    wanted = (now_ms // 1000, 1301.25, 1311.0, 1296.5, 1305.75)
    for _ in range(60):  # until the page's subscription is in place and the update shown
        await platform_redis.publish(channel, orjson.dumps(live))
        await asyncio.sleep(0.5)
        if _drawn(await _candles(chart))[-1] == wanted:
            break
    assert _drawn(await _candles(chart)) == [*_expected(second_venue), wanted]
    await chart.wait_for_function(
        "document.querySelector('#legend-values [data-field=c]').textContent === 'C 1305.75'"
    )
    await chart.screenshot(path=str(tmp_path / "chart-bybit-linear-live.png"))

    # The address links to the market: a fresh page opens on it.
    linked = await browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        await linked.goto(chart.url)
        await linked.wait_for_selector("body[data-ready=true]", timeout=30_000)
        await _wait_loaded(linked, "bybit-linear", SYMBOL)
        assert await linked.input_value("#venue") == "bybit-linear"
        assert await linked.input_value("#symbol") == SYMBOL
    finally:
        await linked.close()

    # Back to Binance spot: its symbols, candles and book again, and no exchange named.
    mark = traffic.mark()
    await chart.select_option("#venue", "binance-spot")
    await _wait_loaded(chart, "binance-spot", "BTCUSDT")
    await chart.wait_for_function("document.body.dataset.bookVenue === 'binance-spot'")
    back = _drawn(await _candles(chart))
    assert len(back) > 100 and all(not 1000 < bar[4] < 2000 for bar in back)
    assert back[0] == binance[0]
    assert await chart.title() == "Linkora · BTCUSDT · Binance spot"
    assert "exchange=" not in chart.url and "kind=" not in chart.url
    assert "Binance spot" in await chart.locator("#legend").inner_text()
    rest, sockets = traffic.since(mark)
    assert [u for u in rest if u.endswith("/symbols")]
    assert not [u for u in _api_requests(rest) if "exchange=" in u or "kind=" in u]
    assert sockets and not [u for u in sockets if "exchange=" in u or "kind=" in u]
    await chart.screenshot(path=str(tmp_path / "chart-binance-again.png"))


async def test_venues_without_trade_counts_keep_the_legend_readable_when_hovered(
    page: tuple[Page, Traffic],
    running_platform: dict[str, Any],
    second_venue: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    chart, _ = page
    base = running_platform["endpoints"]["api-server"]
    await chart.goto(f"{base}/?exchange=BYBIT&kind=linear&symbol={SYMBOL.lower()}&timeframe=1")
    await chart.wait_for_selector("body[data-ready=true]", timeout=30_000)
    await _wait_loaded(chart, "bybit-linear", SYMBOL)
    minute = second_venue[10]
    point = await chart.evaluate("(time) => window.linkoraChart.barPoint(time)", minute["time"])
    assert point is not None
    await chart.mouse.move(point["x"], point["y"])
    await chart.wait_for_function(
        f"document.querySelector('#legend-values [data-field=o]').textContent"
        f" === 'O {minute['prices'][0]}'"
    )
    assert await chart.locator("#legend-values [data-field=trades]").inner_text() == "Trades n/a"
    await chart.screenshot(path=str(tmp_path / "chart-bybit-linear-hover.png"))
