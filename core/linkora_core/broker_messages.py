"""What the platform tells other applications over the broker (issue 18): routing keys and
message ids (pure). The bodies are the JSON each writer makes; the AsyncAPI document the
api-server serves describes every one.

Routing keys keep the earlier system's names as their first words and add the market
(exchange, kind, symbol) and, for candles, the timeframe label, so a consumer binds what it
needs: ``crypto.kline.updated.#`` (every closed candle, as the earlier binding received),
``crypto.kline.updated.binance.spot.BTCUSDT.*`` (one market), ``orders.#``::

    crypto.kline.updated.binance.spot.BTCUSDT.1H   a closed candle of one market and timeframe
    crypto.price.updated.bybit.linear.BTCUSDT      the throttled ticker
    crypto.orderbook.updated.okx.swap.BTC-USDT-SWAP  the throttled order book
    crypto.historical.updated.binance.spot.ETHUSDT   a committed backfill chunk
    orders.created / .executed / .cancelled / .modified / .retracted

Message ids are deterministic, so a message written twice (a batch retried after a crash) is
stored once in the outbox and a consumer that meets an id again drops it.
"""

from __future__ import annotations

from typing import Final

from linkora_core.markets import Market
from linkora_core.timeframes import Timeframe

KLINE: Final = "crypto.kline.updated"
PRICE: Final = "crypto.price.updated"
ORDERBOOK: Final = "crypto.orderbook.updated"
HISTORICAL: Final = "crypto.historical.updated"
ORDERS_CREATED: Final = "orders.created"
ORDERS_EXECUTED: Final = "orders.executed"
ORDERS_CANCELLED: Final = "orders.cancelled"
ORDERS_MODIFIED: Final = "orders.modified"
ORDERS_RETRACTED: Final = "orders.retracted"


def market_key(topic: str, market: Market, timeframe: Timeframe | None = None) -> str:
    """The routing key of a market message: `topic`, then exchange, kind and symbol (and the
    timeframe's label for candles). Symbols never hold a dot, which separates the words."""
    words = [topic, market.venue.exchange.value, market.venue.kind.value, market.symbol]
    if timeframe is not None:
        words.append(timeframe.value)
    return ".".join(words)


def candle_id(market: Market, timeframe: Timeframe, open_ms: int) -> str:
    """A closed candle's id: its market, timeframe and open time (epoch ms)."""
    return f"kline:{market.qualified}:{timeframe.value}:{open_ms}"


def historical_id(market: Market, first_ms: int, last_ms: int) -> str:
    """A committed backfill chunk's id: its market and the open times of its first and last
    minutes."""
    return f"historical:{market.qualified}:{first_ms}:{last_ms}"


def sampled_id(kind: str, market: Market, at_ms: int) -> str:
    """A throttled ticker's or book's id (`kind` "price" or "orderbook"): its market and the
    time it shows (a book's exchange time, a ticker's minute update)."""
    return f"{kind}:{market.qualified}:{at_ms}"


def order_event_id(chain_id: int, block_hash: str, log_index: int) -> str:
    """An order event's id: where the log is on the chain (one log, one id, on every fork)."""
    return f"order:{chain_id}:{block_hash.lower()}:{log_index}"


def retraction_id(chain_id: int, block_hash: str, log_index: int) -> str:
    """The id of the message that retracts the order event with these coordinates."""
    return f"retracted:{chain_id}:{block_hash.lower()}:{log_index}"
