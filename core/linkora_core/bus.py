"""Redis pub/sub between services: channel names and a publisher that never blocks
collection when Redis is down (it reports the failure and the caller carries on)."""

from __future__ import annotations

import logging
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from linkora_core.markets import BINANCE_SPOT, VENUES, Market

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)

# Every message goes to its kind's all-symbols channel of its venue and to the market's own;
# the payloads are linkora_core.market_messages. Binance spot keeps the names it had before
# venues existed (`candles:all`, `candles:BTCUSDT`); another venue's are qualified by its key
# (`candles:bybit-linear:all`, `candles:bybit-linear:BTCUSDT`).
CANDLES_ALL: Final = "candles:all"
ORDERBOOK_ALL: Final = "orderbook:all"


def _channels(kind: str, market: Market) -> tuple[str, str]:
    if market.venue == BINANCE_SPOT:
        return f"{kind}:all", f"{kind}:{market.symbol}"
    return f"{kind}:{market.venue.key}:all", f"{kind}:{market.venue.key}:{market.symbol}"


def candle_channels(market: Market) -> tuple[str, str]:
    return _channels("candles", market)


def orderbook_channels(market: Market) -> tuple[str, str]:
    return _channels("orderbook", market)


def all_channels(kind: str) -> tuple[str, ...]:
    """The all-symbols channels of every venue for `kind` (`candles` or `orderbook`)."""
    return tuple(_channels(kind, Market(venue, "ALL"))[0] for venue in VENUES)


def connect(url: str) -> Redis:
    """A client with short timeouts: a dead Redis must fail fast, not stall a hot loop."""
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=15)


async def is_healthy(redis: Redis) -> bool:
    try:
        # redis 7's annotations give ping() the sync client's result too; this one awaits.
        return bool(await redis.ping())  # type: ignore[misc]
    except REDIS_DOWN:
        return False


# Backfill progress of every market (linkora_core.progress_messages), at least once a second
# while a market backfills; and the control events the api-server acts on at once (a market
# removed: its WebSocket subscribers are told and closed).
PROGRESS: Final = "progress"
CONTROL: Final = "control"
