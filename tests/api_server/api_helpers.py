"""Helpers shared by the api-server tests: storing minutes, a reference aggregation and
WebSocket reading. Where a helper takes a market, a bare symbol is Binance spot's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from api_server.settings import ApiSettings
from linkora_core.candle_columns import VALUE_COLUMNS, VALUES, assignments, values
from linkora_core.candles import Candle, LiveCandle
from linkora_core.market_messages import candle_message, encode
from linkora_core.markets import BINANCE_SPOT, Exchange, Kind, Market, Venue
from linkora_core.timeframes import MINUTE_MS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BYBIT_LINEAR = Venue(Exchange.BYBIT, Kind.LINEAR)
# The folder's apps take this admin token (`admin_token` setting) unless a test says otherwise.
ADMIN_TOKEN = "test-admin-token-0123456789"
# Starts the app under uvicorn with settings overrides: `(app, "ws://127.0.0.1:port")`.
ServerFactory = Callable[..., Awaitable[tuple[Starlette, str]]]


def settings_for(service_env: dict[str, str], **overrides: Any) -> ApiSettings:
    fields: dict[str, Any] = {name.lower(): value for name, value in service_env.items()}
    fields.update(overrides)
    return ApiSettings(**fields)


def spot(symbol: str) -> Market:
    """A Binance spot market."""
    return Market(BINANCE_SPOT, symbol)


def as_market(market: Market | str) -> Market:
    return spot(market) if isinstance(market, str) else market


def moment(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


async def store_minutes(
    db: asyncpg.Pool,
    market: Market | str,
    minutes: Iterable[Candle],
    *,
    open_from: int | None = None,
) -> None:
    """Insert (or replace) 1m candles; minutes at or after `open_from` are still open."""
    where = as_market(market)
    await db.executemany(
        f"""
        INSERT INTO candles (venue, symbol, open_time, {VALUES}, is_closed)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (venue, symbol, open_time) DO UPDATE SET
            {assignments((*VALUE_COLUMNS, "is_closed"))}, updated_at = now()
        """,
        [
            (
                where.venue.key,
                where.symbol,
                moment(m.open_time_ms),
                *values(m),
                open_from is None or m.open_time_ms < open_from,
            )
            for m in minutes
        ],
    )


def minute(
    ms: int,
    open_: str,
    high: str,
    low: str,
    close: str,
    volume: str = "1",
    trades: int | None = 1,
) -> Candle:
    """A 1m candle with quote volume = volume x 10 and taker volumes = half of each."""
    v = Decimal(volume)
    return Candle(
        open_time_ms=ms,
        open=Decimal(open_),
        high=Decimal(high),
        low=Decimal(low),
        close=Decimal(close),
        volume=v,
        quote_volume=v * 10,
        trades=trades,
        taker_buy_volume=v / 2,
        taker_buy_quote_volume=v * 5,
    )


_WIDTH_MINUTES = {
    "1": 1,
    "3": 3,
    "5": 5,
    "15": 15,
    "30": 30,
    "45": 45,
    "1H": 60,
    "2H": 120,
    "3H": 180,
    "4H": 240,
}


def reference_start(label: str, ms: int) -> int:
    """Bucket start by calendar arithmetic, independent of linkora_core.timeframes."""
    if label in _WIDTH_MINUTES:
        width = _WIDTH_MINUTES[label] * 60_000
        return ms - ms % width
    day = moment(ms).date()
    if label == "1W":
        day -= timedelta(days=day.weekday())
    elif label == "1M":
        day = day.replace(day=1)
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000


def reference_candles(minutes: list[Candle], label: str) -> list[dict[str, object]]:
    """The straightforward Binance rule, bucket by bucket, as Decimal-valued dicts."""
    groups: dict[int, list[Candle]] = {}
    for m in sorted(minutes, key=lambda c: c.open_time_ms):
        groups.setdefault(reference_start(label, m.open_time_ms), []).append(m)
    out = []
    for start, group in groups.items():
        traded = [m for m in group if _traded(m)] or group[:1]
        out.append(
            {
                "timestamp": start,
                "open_price": traded[0].open,
                "high_price": max(m.high for m in traded),
                "low_price": min(m.low for m in traded),
                "close_price": traded[-1].close,
                "volume": sum((m.volume for m in group), Decimal(0)),
                "quote_volume": sum((m.quote_volume for m in group), Decimal(0)),
                "trades": _trades(group),
                "taker_buy_volume": _known_sum(m.taker_buy_volume for m in group),
                "taker_buy_quote_volume": _known_sum(m.taker_buy_quote_volume for m in group),
            }
        )
    return out


def _traded(m: Candle) -> bool:
    return m.volume > 0 if m.trades is None else m.trades > 0


def _trades(group: list[Candle]) -> int | None:
    counts = [m.trades for m in group if m.trades is not None]
    return sum(counts) if counts else None


def as_decimals(rest: dict[str, object]) -> dict[str, object]:
    """A REST candle with its decimal strings parsed (after checking they are plain)."""
    out: dict[str, object] = {}
    for key, value in rest.items():
        if key in ("open_time", "close_time"):
            continue
        if isinstance(value, str):
            assert "E" not in value and "e" not in value, value
            out[key] = Decimal(value)
        else:
            out[key] = value
    return out


# A Monday at the end of February: random series cross weeks, months and a leap day.
SERIES_BASE = int(datetime(2024, 2, 26, tzinfo=UTC).timestamp()) * 1000


@st.composite
def minute_series(draw: st.DrawFn) -> list[Candle]:
    """Runs of minutes separated by gaps (up to 40 days, to cross weeks and months), with
    zero-trade placeholders at the previous close."""
    at = SERIES_BASE + draw(st.integers(0, 3 * 24 * 60)) * MINUTE_MS
    price = Decimal(draw(st.integers(100, 10_000))) / 100
    out: list[Candle] = []
    for _ in range(draw(st.integers(1, 4))):
        for _ in range(draw(st.integers(1, 400))):
            if draw(st.integers(0, 4)) == 0:
                p = str(price)
                out.append(minute(at, p, p, p, p, volume="0", trades=0))
            else:
                open_ = max(Decimal("0.01"), price + Decimal(draw(st.integers(-50, 50))) / 100)
                close = max(Decimal("0.01"), open_ + Decimal(draw(st.integers(-50, 50))) / 100)
                high = max(open_, close) + Decimal(draw(st.integers(0, 30))) / 1000
                low = max(Decimal(0), min(open_, close) - Decimal(draw(st.integers(0, 30))) / 1000)
                volume = str(Decimal(draw(st.integers(1, 10**6))) / 10**4)
                out.append(
                    minute(
                        at,
                        str(open_),
                        str(high),
                        str(low),
                        str(close),
                        volume=volume,
                        trades=draw(st.integers(1, 50)),
                    )
                )
                price = close
            at += MINUTE_MS
        at += draw(st.sampled_from([1, 7, 60, 1440, 40 * 1440])) * MINUTE_MS
    return out


def collector_message(market: Market | str, m: Candle, *, closed: bool) -> bytes:
    """The message the collector publishes for this minute."""
    return encode(candle_message(LiveCandle(as_market(market), m, closed)))


async def receive(ws: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    """The next message that is not a heartbeat."""
    while True:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), within))
        if message.get("type") != "heartbeat":
            return message  # type: ignore[no-any-return]


async def ready(app: Starlette, ws: ClientConnection) -> None:
    """The subscription is registered and the feed listens to Redis."""
    await ws.send('{"type":"ping"}')
    assert await receive(ws) == {"type": "pong"}
    for _ in range(200):
        if app.state.live_feed.connected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("live feed did not subscribe")


async def closed_with(ws: ClientConnection, within: float = 5.0) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


def numbered_book(update: int, levels: list[dict[str, str]]) -> bytes:
    """A BTCUSDT book as the collector publishes it, with `update` as its time and update id
    (so a receiver can tell which one it got) and the same `levels` on both sides."""
    return orjson.dumps(
        {
            "symbol": "BTCUSDT",
            "timestamp": update,
            "last_update_id": update,
            "bids": levels,
            "asks": levels,
        }
    )


def db_examples(max_examples: int) -> settings:
    """Hypothesis settings for a property test that writes to the real database: few
    examples, no deadline, and no shrinking (each example costs round trips)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def _known_sum(values: Iterable[Decimal | None]) -> Decimal | None:
    """The reference's sum of a figure some exchanges do not publish: None when none is known."""
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None
