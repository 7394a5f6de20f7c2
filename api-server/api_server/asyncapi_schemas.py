"""The payload schemas (JSON Schema, as AsyncAPI 2.6 takes it) and one example of every
message the platform publishes over the broker: the market messages the collector writes
(linkora_core.market_announcements) and the order events the event processor writes
(order_system.events.announcements). A test validates the examples and the real bodies
against them."""

from __future__ import annotations

from typing import Any, Final

Schema = dict[str, Any]

DECIMAL: Final[Schema] = {
    "type": "string",
    "pattern": r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$",
    "description": "A plain decimal string: exact, minimal, never scientific",
}
_NULLABLE_DECIMAL: Final[Schema] = {"oneOf": [DECIMAL, {"type": "null"}]}
_MS: Final[Schema] = {"type": "integer", "description": "Epoch milliseconds (UTC)"}
_ISO_MS: Final[Schema] = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
    "description": "The same instant in ISO 8601 UTC, with milliseconds",
}
_TIME: Final[Schema] = {"type": "string", "format": "date-time"}
_ADDRESS: Final[Schema] = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}
_HASH: Final[Schema] = {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}
_TIMEFRAMES: Final = ["1", "3", "5", "15", "30", "45", "1H", "2H", "3H", "4H", "1D", "1W", "1M"]


def _object(properties: dict[str, Schema], description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


_MARKET: Final[dict[str, Schema]] = {
    "exchange": {"type": "string", "enum": ["binance", "bybit", "okx", "whitebit"]},
    "kind": {"type": "string", "description": "spot, usdm, linear, swap ..."},
    "symbol": {"type": "string", "description": "The exchange's spelling: BTCUSDT, BTC-USDT"},
    "market": {"type": "string", "description": "exchange:kind:SYMBOL"},
}
_LEVEL: Final[Schema] = _object({"price": DECIMAL, "quantity": DECIMAL}, "One price level")

KLINE: Final[Schema] = _object(
    {
        **_MARKET,
        "timeframe": {"type": "string", "enum": _TIMEFRAMES},
        "timestamp": {**_MS, "description": "The bucket's open time (aligned start)"},
        "timestamp_iso": _ISO_MS,
        "open": DECIMAL,
        "high": DECIMAL,
        "low": DECIMAL,
        "close": DECIMAL,
        "volume": DECIMAL,
        "quote_volume": DECIMAL,
        "trades": {
            "type": ["integer", "null"],
            "description": "null where the exchange publishes no trade count",
        },
        "taker_buy_volume": _NULLABLE_DECIMAL,
        "taker_buy_quote_volume": _NULLABLE_DECIMAL,
        "closed": {"const": True},
        "close_time": {**_MS, "description": "The bucket's last millisecond"},
        "close_time_iso": _ISO_MS,
    },
    "A closed candle, aggregated by Binance's rule (prices from the sub-candles that "
    "traded, sums over all): the candle REST /candles serves for that bucket",
)
PRICE: Final[Schema] = _object(
    {
        **_MARKET,
        "price": {**DECIMAL, "description": "The last price (the live minute's close)"},
        "timestamp": {**_MS, "description": "When the collector sampled it"},
        "timestamp_iso": _ISO_MS,
        "minute": {**_MS, "description": "Open time of the 1m candle it comes from"},
        "minute_iso": _ISO_MS,
        "closed": {"type": "boolean", "description": "Whether that minute has closed"},
    },
    "The live price, at most once per market per BROKER_PRICE_INTERVAL seconds",
)
ORDERBOOK: Final[Schema] = _object(
    {
        **_MARKET,
        "timestamp": {**_MS, "description": "When the collector received the book"},
        "timestamp_iso": _ISO_MS,
        "last_update_id": {"type": "integer"},
        "bids": {"type": "array", "items": _LEVEL, "description": "Best (highest) first"},
        "asks": {"type": "array", "items": _LEVEL, "description": "Best (lowest) first"},
    },
    "The top of a market's book, each stored one (ORDERBOOK_STORE_INTERVAL per market)",
)
HISTORICAL: Final[Schema] = _object(
    {
        **_MARKET,
        "timeframe": {"const": "1"},
        "first_open_time": _MS,
        "first_open_time_iso": _ISO_MS,
        "last_open_time": _MS,
        "last_open_time_iso": _ISO_MS,
        "count": {"type": "integer", "minimum": 1, "description": "1m candles in the chunk"},
    },
    "A committed chunk of backfilled 1m candles (read them, or any timeframe, from REST "
    "/candles); a backfill announces its chunks, never each candle",
)

_ORDER_PROPERTIES: Final[dict[str, Schema]] = {
    "id": {"type": "integer"},
    "user_address": _ADDRESS,
    "token_in": _ADDRESS,
    "token_out": _ADDRESS,
    "amount_in": DECIMAL,
    "target_price": DECIMAL,
    "min_amount_out": DECIMAL,
    "order_type": {"type": "string", "enum": ["LIMIT", "STOP"]},
    "is_long": {"type": "boolean"},
    "status": {"type": "string", "enum": ["PENDING", "EXECUTED", "CANCELLED"]},
    "created_at": _TIME,
    "executed_at": {"oneOf": [_TIME, {"type": "null"}]},
    "self_executable": {"type": "boolean"},
    "updated_at": _TIME,
    "tx_hash": _HASH,
    "block_number": {"type": "integer"},
    "executor_address": {"oneOf": [_ADDRESS, {"type": "null"}]},
    "amount_out": _NULLABLE_DECIMAL,
    "execution_tx_hash": {"oneOf": [_HASH, {"type": "null"}]},
}
_UNKNOWN_DECIMALS: Final[Schema] = {
    "type": ["integer", "null"],
    "description": "Present when a token's decimals are unknown (its amounts are raw units)",
}
ORDER: Final[Schema] = {
    **_object(_ORDER_PROPERTIES, "The order as GET /orders/{id} of the order API shows it"),
    "properties": {
        **_ORDER_PROPERTIES,
        "token_in_decimals": _UNKNOWN_DECIMALS,
        "token_out_decimals": _UNKNOWN_DECIMALS,
    },
}
_COORDINATES: Final[dict[str, Schema]] = {
    "chain_id": {"type": "integer"},
    "order_id": {"type": "integer"},
    "user_address": _ADDRESS,
    "tx_hash": _HASH,
    "block_number": {"type": "integer"},
    "block_hash": _HASH,
    "log_index": {"type": "integer"},
}
ORDER_EVENT: Final[Schema] = _object(
    {
        "message_id": {"type": "string", "description": "order:<chain id>:<block hash>:<log>"},
        "event_type": {"type": "string", "enum": ["CREATED", "EXECUTED", "CANCELLED", "MODIFIED"]},
        **_COORDINATES,
        "timestamp": {**_TIME, "description": "The block's time"},
        "event_data": {"type": "object", "description": "The log's decoded arguments"},
        "order": {"$ref": "#/components/schemas/Order"},
    },
    "An order event applied by the event processor, with the order's state after it",
)
ORDER_RETRACTED: Final[Schema] = _object(
    {
        "message_id": {"type": "string", "description": "retracted:<chain id>:<hash>:<log>"},
        "retracted_message_id": {"type": "string", "description": "The event's message_id"},
        "retracted_event_type": {
            "type": "string",
            "enum": ["CREATED", "EXECUTED", "CANCELLED", "MODIFIED"],
        },
        **_COORDINATES,
        "order": {
            "oneOf": [{"$ref": "#/components/schemas/Order"}, {"type": "null"}],
            "description": "The order once the event is undone; null: it no longer exists",
        },
    },
    "A reorganisation removed an order event already announced: undo it",
)

SCHEMAS: Final[dict[str, Schema]] = {
    "Kline": KLINE,
    "Price": PRICE,
    "OrderBook": ORDERBOOK,
    "Historical": HISTORICAL,
    "Order": ORDER,
    "OrderEvent": ORDER_EVENT,
    "OrderRetracted": ORDER_RETRACTED,
}

_BTC: Final = {
    "exchange": "binance",
    "kind": "spot",
    "symbol": "BTCUSDT",
    "market": "binance:spot:BTCUSDT",
}
_USER: Final = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
_BLOCK: Final = "0x" + "9f3c" * 16
_TX: Final = "0x" + "5b1e" * 16
_ORDER_EXAMPLE: Final = {
    "id": 5, "user_address": _USER, "token_in": "0x" + "0" * 40,
    "token_out": "0xA51c1fc2f0D1a1b8494Ed1FE312d7C3a78Ed91C0", "amount_in": "0.05",
    "target_price": "0.8944299", "min_amount_out": "0.04", "order_type": "LIMIT",
    "is_long": True, "status": "EXECUTED", "created_at": "2026-12-04T01:00:00+00:00",
    "executed_at": "2026-12-04T01:02:03+00:00", "self_executable": False,
    "updated_at": "2026-12-04T01:02:03+00:00", "tx_hash": "0x" + "77aa" * 16,
    "block_number": 1228, "executor_address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "amount_out": "0.0447", "execution_tx_hash": _TX,
}  # fmt: skip
_EVENT_PLACE: Final = {
    "chain_id": 31337, "order_id": 5, "user_address": _USER, "tx_hash": _TX,
    "block_number": 1230, "block_hash": _BLOCK, "log_index": 2,
}  # fmt: skip

EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "Kline": {
        **_BTC, "timeframe": "1H", "timestamp": 1699999200000,
        "timestamp_iso": "2023-11-14T22:00:00.000Z", "open": "37000.1", "high": "37012.5",
        "low": "36999", "close": "37010", "volume": "12.5", "quote_volume": "462600",
        "trades": 101, "taker_buy_volume": "6.2", "taker_buy_quote_volume": "229400",
        "closed": True, "close_time": 1700002799999, "close_time_iso": "2023-11-14T22:59:59.999Z",
    },
    "Price": {
        **_BTC, "price": "37010", "timestamp": 1700000012345,
        "timestamp_iso": "2023-11-14T22:13:32.345Z", "minute": 1699999980000,
        "minute_iso": "2023-11-14T22:13:00.000Z", "closed": False,
    },
    "OrderBook": {
        **_BTC, "timestamp": 1700000012345, "timestamp_iso": "2023-11-14T22:13:32.345Z",
        "last_update_id": 160, "bids": [{"price": "37000", "quantity": "1.5"}],
        "asks": [{"price": "37000.1", "quantity": "2"}],
    },
    "Historical": {
        **_BTC, "timeframe": "1", "first_open_time": 1577923200000,
        "first_open_time_iso": "2020-01-02T00:00:00.000Z", "last_open_time": 1577983140000,
        "last_open_time_iso": "2020-01-02T16:39:00.000Z", "count": 1000,
    },
    "OrderEvent": {
        "message_id": f"order:31337:{_BLOCK}:2", "event_type": "EXECUTED", **_EVENT_PLACE,
        "timestamp": "2026-12-04T01:02:03+00:00",
        "event_data": {"orderId": 5, "executor": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"},
        "order": _ORDER_EXAMPLE,
    },
    "OrderRetracted": {
        "message_id": f"retracted:31337:{_BLOCK}:2",
        "retracted_message_id": f"order:31337:{_BLOCK}:2", "retracted_event_type": "EXECUTED",
        **_EVENT_PLACE,
        "order": {**_ORDER_EXAMPLE, "status": "PENDING", "executed_at": None,
                  "executor_address": None, "amount_out": None, "execution_tx_hash": None},
    },
}  # fmt: skip
