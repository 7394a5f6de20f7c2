"""Exchange information: the venues with their status, each venue's markets and timeframes,
24 h tickers from the stored candles (equal to the straightforward fold of the minutes whether
rollups are stored or not) and the UDF quotes made from them."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import asyncpg
import httpx
import pytest
from api_helpers import BYBIT_LINEAR, minute, moment, spot, store_minutes
from hypothesis import given
from hypothesis import strategies as st

from api_server.tickers import window_segments
from linkora_core.candles import Candle, build_bucket
from linkora_core.decimals import to_plain
from linkora_core.markets import Market
from linkora_core.rollup_passes import roll_market
from linkora_core.timeframes import MINUTE_MS, Timeframe

BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp()) * 1000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
# 30 h 7 min of minutes: the 24 h window starts and ends off every rollup boundary.
COUNT = 30 * 60 + 7
BYBIT_BTC = Market(BYBIT_LINEAR, "BTCUSDT")


def _series(price: int, *, counted: bool = True) -> list[Candle]:
    """Minutes wandering around `price`, every 11th a zero-trade placeholder at the previous
    close (Bybit's, without trade counts, tell it by volume)."""
    out: list[Candle] = []
    close = Decimal(price)
    for i in range(COUNT):
        if i % 11 == 10:
            c = minute(BASE + i * MINUTE_MS, *(str(close),) * 4, volume="0", trades=0)
        else:
            step = Decimal((i * 37) % 17 - 8) / 4
            o, close = close, close + step
            c = minute(
                BASE + i * MINUTE_MS, str(o), str(max(o, close) + 1), str(min(o, close) - 1),
                str(close), volume=f"{1 + i % 5}.125", trades=3,
            )  # fmt: skip
        if not counted:
            c = replace(c, trades=None, taker_buy_volume=None, taker_buy_quote_volume=None)
        out.append(c)
    return out


def _expected(market: Market, minutes: list[Candle]) -> dict[str, object]:
    """The ticker by hand: the last 1,440 minutes folded by the Binance rule."""
    last = minutes[-1]
    window = [m for m in minutes if m.open_time_ms > last.open_time_ms - DAY_MS]
    assert len(window) == 1440
    day = build_bucket(window[0].open_time_ms, Timeframe.DAY_1, window)
    change = day.close - day.open
    return {
        "exchange": market.venue.exchange.value,
        "kind": market.venue.kind.value,
        "symbol": market.symbol,
        "last_price": to_plain(day.close),
        "open_24h": to_plain(day.open),
        "high_24h": to_plain(day.high),
        "low_24h": to_plain(day.low),
        "volume_24h": to_plain(day.volume),
        "quote_volume_24h": to_plain(day.quote_volume),
        "change_24h": to_plain(change),
        "change_percent_24h": to_plain(
            (change * 100 / day.open).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        ),
        "timestamp": last.open_time_ms,
    }


@pytest.fixture
async def markets(clean_db: asyncpg.Pool) -> dict[Market, list[Candle]]:
    """BTCUSDT and ETHUSDT on Binance spot, BTCUSDT on Bybit linear (no trade counts); the
    last minute of each still open."""
    await clean_db.execute("DELETE FROM venue_status")
    seeded = {
        spot("BTCUSDT"): _series(60_000),
        spot("ETHUSDT"): _series(3_000),
        BYBIT_BTC: _series(61_000, counted=False),
    }
    for market, minutes in seeded.items():
        await store_minutes(clean_db, market, minutes, open_from=minutes[-1].open_time_ms)
    return seeded


@pytest.mark.parametrize("rolled", [False, True])
async def test_tickers_are_the_24h_fold_of_the_minutes_with_or_without_rollups(
    client: httpx.AsyncClient,
    clean_db: asyncpg.Pool,
    markets: dict[Market, list[Candle]],
    rolled: bool,
) -> None:
    if rolled:
        for market in markets:
            await roll_market(clean_db, market)
        assert await clean_db.fetchval("SELECT count(*) FROM candle_rollups WHERE timeframe = '1H'")
    binance = [_expected(m, markets[m]) for m in (spot("BTCUSDT"), spot("ETHUSDT"))]
    response = await client.get("/tickers")
    assert (response.status_code, response.json()) == (200, {"tickers": binance})

    bybit = await client.get("/tickers?exchange=BYBIT&kind=linear&symbol=btcusdt")
    assert bybit.json() == {"tickers": [_expected(BYBIT_BTC, markets[BYBIT_BTC])]}
    one = await client.get("/tickers?symbol=ETHUSDT")
    assert one.json() == {"tickers": [binance[1]]}
    assert (await client.get("/tickers?symbol=XRPUSDT")).json() == {"tickers": []}
    assert (await client.get("/tickers?exchange=okx")).json() == {"tickers": []}


async def test_a_partly_rolled_window_still_equals_the_fold(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool, markets: dict[Market, list[Candle]]
) -> None:
    btc = spot("BTCUSDT")
    await roll_market(clean_db, btc)
    # Rollups that stop early in the window: the rest comes from the finer levels and minutes.
    cut = moment(BASE + 20 * HOUR_MS)
    await clean_db.execute(
        "DELETE FROM candle_rollups WHERE timeframe = '1H' AND open_time >= $1", cut
    )
    await clean_db.execute(
        "DELETE FROM candle_rollups WHERE timeframe = '15' AND open_time >= $1",
        cut + timedelta(hours=3),
    )
    response = await client.get("/tickers?symbol=BTCUSDT")
    assert response.json() == {"tickers": [_expected(btc, markets[btc])]}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/tickers?exchange=kraken", "unknown exchange 'kraken'; one of "),
        ("/tickers?exchange=bybit&kind=swap", "unknown kind 'swap' for bybit; one of "),
        ("/tickers?symbol=BTC$USDT", "Invalid symbol"),
        ("/udf/quotes", "symbols parameter is required"),
        ("/udf/quotes?symbols=" + ",".join(["BTCUSDT"] * 101), "at most 100 symbols"),
        ("/exchanges/bybit/markets?kind=usdm", "unknown kind 'usdm' for bybit; one of "),
        ("/exchanges/okx/timeframes?kind=" + "x" * 65, "unknown kind"),
    ],
)
async def test_bad_parameters_are_a_400_naming_them(
    client: httpx.AsyncClient, url: str, message: str
) -> None:
    response = await client.get(url)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


async def test_udf_quotes_follow_the_tickers_with_an_error_entry_per_unknown_ticker(
    client: httpx.AsyncClient, markets: dict[Market, list[Candle]]
) -> None:
    names = "BTCUSDT,BYBIT-LINEAR:btcusdt,XRPUSDT,KRAKEN-SPOT:BTCUSDT, ETHUSDT"
    response = await client.get("/udf/quotes", params={"symbols": names})
    assert response.status_code == 200
    body = response.json()
    assert body["s"] == "ok"
    assert [(d["s"], d["n"]) for d in body["d"]] == [
        ("ok", "BTCUSDT"),
        ("ok", "BYBIT-LINEAR:btcusdt"),
        ("error", "XRPUSDT"),
        ("error", "KRAKEN-SPOT:BTCUSDT"),
        ("ok", "ETHUSDT"),
    ]
    assert body["d"][2]["v"] == body["d"][3]["v"] == {}
    ticker = _expected(BYBIT_BTC, markets[BYBIT_BTC])
    assert body["d"][1]["v"] == {
        "ch": ticker["change_24h"],
        "chp": ticker["change_percent_24h"],
        "short_name": "BTCUSDT",
        "exchange": "Linkora",
        "description": "BTCUSDT",
        "lp": ticker["last_price"],
        "open_price": ticker["open_24h"],
        "high_price": ticker["high_24h"],
        "low_price": ticker["low_24h"],
        "prev_close_price": ticker["open_24h"],
        "volume": ticker["volume_24h"],
    }
    assert all(isinstance(v, str) for d in body["d"] for v in d["v"].values())


async def _state(
    db: asyncpg.Pool, venue: str, symbol: str, phase: str, closed_ms: int | None = None
) -> None:
    await db.execute(
        "INSERT INTO collector_state (venue, symbol, phase, last_closed_minute, backfill_done,"
        " backfill_total) VALUES ($1, $2, $3, $4, 10, 20)",
        venue, symbol, phase, None if closed_ms is None else moment(closed_ms),
    )  # fmt: skip


async def _figures(
    db: asyncpg.Pool, venue: str, *, connected: bool = True, age: float = 1.0,
    error: str | None = None,
) -> None:  # fmt: skip
    await db.execute(
        "INSERT INTO venue_status VALUES ($1, $2, 120, 300, 6000, 1, 2, 3, $3,"
        " now() - make_interval(secs => $4))",
        venue, connected, error, age,
    )  # fmt: skip


@pytest.fixture
async def venues(clean_db: asyncpg.Pool) -> int:
    """Binance spot live, Bybit linear with a failed market, Bybit spot with an error
    recorded, OKX spot silent for a minute, OKX swap disconnected, WhiteBIT collected but
    never written; Binance USD-M not collected. Returns the newest closed minute written."""
    await clean_db.execute("DELETE FROM venue_status")
    now = int(datetime.now(UTC).timestamp() * 1000) // MINUTE_MS * MINUTE_MS
    await _state(clean_db, "binance-spot", "BTCUSDT", "realtime", now - 2 * MINUTE_MS)
    await _state(clean_db, "binance-spot", "ETHUSDT", "realtime", now - 3 * MINUTE_MS)
    await _state(clean_db, "bybit-linear", "BTCUSDT", "error")
    await _state(clean_db, "bybit-spot", "BTCUSDT", "realtime")
    await _state(clean_db, "okx-spot", "BTC-USDT", "realtime")
    await _state(clean_db, "okx-swap", "BTC-USDT-SWAP", "backfill")
    await _state(clean_db, "whitebit-spot", "BTC_USDT", "starting")
    await _figures(clean_db, "binance-spot")
    await _figures(clean_db, "bybit-linear")
    await _figures(clean_db, "bybit-spot", error="HTTP 400 (code 10001): params error")
    await _figures(clean_db, "okx-spot", age=60)
    await _figures(clean_db, "okx-swap", connected=False)
    await store_minutes(clean_db, "BTCUSDT", [minute(BASE, "1", "2", "0.5", "1.5")])
    return now - 2 * MINUTE_MS


async def test_exchanges_list_every_venue_in_order_with_its_status(
    client: httpx.AsyncClient, venues: int
) -> None:
    response = await client.get("/exchanges")
    assert response.status_code == 200
    assert response.json() == {
        "exchanges": [
            {
                "exchange": "binance",
                "kinds": [
                    {"kind": "spot", "status": "online", "markets": 2},
                    {"kind": "usdm", "status": "not_collected", "markets": 0},
                ],
            },
            {
                "exchange": "bybit",
                "kinds": [
                    {"kind": "spot", "status": "degraded", "markets": 1},
                    {"kind": "linear", "status": "degraded", "markets": 1},
                ],
            },
            {
                "exchange": "okx",
                "kinds": [
                    {"kind": "spot", "status": "offline", "markets": 1},
                    {"kind": "swap", "status": "offline", "markets": 1},
                ],
            },
            {
                "exchange": "whitebit",
                "kinds": [{"kind": "spot", "status": "offline", "markets": 1}],
            },
        ]
    }


async def test_the_status_view_shows_the_collectors_figures_and_the_lag(
    client: httpx.AsyncClient, venues: int
) -> None:
    body = (await client.get("/exchanges/status")).json()
    by_key = {f"{v['exchange']}-{v['kind']}": v for v in body["venues"]}
    assert list(by_key) == [
        "binance-spot", "binance-usdm", "bybit-spot", "bybit-linear", "okx-spot", "okx-swap",
        "whitebit-spot",
    ]  # fmt: skip
    binance = by_key["binance-spot"]
    updated = binance.pop("updated_at")
    lag = binance.pop("lag_seconds")
    assert binance == {
        "exchange": "binance",
        "kind": "spot",
        "status": "online",
        "connected": True,
        "rest_requests": 120,
        "budget_used": 300,
        "budget_limit": 6000,
        "rejections": 1,
        "last_error": None,
        "book_resyncs": 2,
        "malformed": 3,
    }
    now_ms = datetime.now(UTC).timestamp() * 1000
    assert abs(now_ms - 1000 - updated) < 5000
    assert 60 <= lag <= (now_ms - venues - MINUTE_MS) / 1000 + 1
    assert by_key["bybit-spot"]["last_error"] == "HTTP 400 (code 10001): params error"
    assert by_key["okx-swap"]["connected"] is False
    never = by_key["whitebit-spot"]
    assert never["connected"] is False and never["updated_at"] is None
    assert never["budget_used"] is None and never["lag_seconds"] is None


async def test_a_venues_markets_and_timeframes(client: httpx.AsyncClient, venues: int) -> None:
    body = (await client.get("/exchanges/Binance/markets")).json()
    assert body["exchange"] == "binance" and body["kind"] == "spot"
    assert body["markets"] == [
        {
            "symbol": "BTCUSDT",
            "phase": "realtime",
            "first_minute": BASE,
            "last_closed_minute": venues,
            "backfill_done": 10,
            "backfill_total": 20,
        },
        {
            "symbol": "ETHUSDT",
            "phase": "realtime",
            "first_minute": None,
            "last_closed_minute": venues - MINUTE_MS,
            "backfill_done": 10,
            "backfill_total": 20,
        },
    ]
    linear = (await client.get("/exchanges/bybit/markets?kind=LINEAR")).json()
    assert (linear["kind"], [m["phase"] for m in linear["markets"]]) == ("linear", ["error"])
    usdm = (await client.get("/exchanges/binance/markets?kind=usdm")).json()
    assert usdm == {"exchange": "binance", "kind": "usdm", "markets": []}

    frames = await client.get("/exchanges/okx/timeframes")
    assert frames.json() == {"timeframes": [tf.value for tf in Timeframe]}
    for url in ("/exchanges/kraken/markets", "/exchanges/kraken/timeframes"):
        missing = await client.get(url)
        assert (missing.status_code, missing.json()) == (404, {"error": "Unknown exchange"})


async def test_nothing_collected_and_nothing_written_is_every_venue_not_collected(
    client: httpx.AsyncClient, clean_db: asyncpg.Pool
) -> None:
    await clean_db.execute("DELETE FROM venue_status")
    body = (await client.get("/exchanges")).json()
    kinds = [k for e in body["exchanges"] for k in e["kinds"]]
    assert len(kinds) == 7
    assert {(k["status"], k["markets"]) for k in kinds} == {("not_collected", 0)}


_FRONTIERS = st.fixed_dictionaries(
    {
        tf: st.one_of(st.none(), st.integers(0, 3 * 24 * 12).map(lambda n: BASE + n * 300_000))
        for tf in (Timeframe.HOUR_1, Timeframe.MINUTE_15, Timeframe.MINUTE_5)
    }
)


@given(start=st.integers(0, 2 * 24 * 60), frontiers=_FRONTIERS)
def test_window_segments_cover_the_window_once_with_stored_whole_buckets(
    start: int, frontiers: dict[Timeframe, int | None]
) -> None:
    lo = BASE + start * MINUTE_MS
    hi = lo + DAY_MS
    segments = window_segments(lo, hi, frontiers)
    assert segments[0][1] == lo and segments[-1][2] == hi
    for (_, _, end), (_, begin, _) in itertools.pairwise(segments):
        assert end == begin
    for timeframe, a, b in segments:
        assert a is not None and b is not None and a < b
        if timeframe is not Timeframe.MINUTE_1:
            width = timeframe.width_ms
            frontier = frontiers[timeframe]
            assert width is not None and frontier is not None
            assert a % width == 0 and b % width == 0 and b <= frontier
    # Fully rolled, a window is a few dozen rows, not 1,440.
    rolled = window_segments(lo, hi, dict.fromkeys(frontiers, hi + DAY_MS))
    rows = sum((b - a) // tf.width_ms for tf, a, b in rolled if tf.width_ms and a and b)
    assert rows <= 23 + 2 * (3 + 2 + 4)
