"""Redis pub/sub between services: channel names and a publisher that never blocks
collection when Redis is down (it reports the failure and the caller carries on)."""

from __future__ import annotations

import logging
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)

# Every message goes to its kind's all-symbols channel and to the symbol's own; the payloads
# are linkora_core.market_messages.
CANDLES_ALL: Final = "candles:all"
ORDERBOOK_ALL: Final = "orderbook:all"


def candle_channels(symbol: str) -> tuple[str, str]:
    return CANDLES_ALL, f"candles:{symbol}"


def orderbook_channels(symbol: str) -> tuple[str, str]:
    return ORDERBOOK_ALL, f"orderbook:{symbol}"


def connect(url: str) -> Redis:
    """A client with short timeouts: a dead Redis must fail fast, not stall a hot loop."""
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=15)


async def is_healthy(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except REDIS_DOWN:
        return False
