"""The AsyncAPI 2.6 document of every message the platform publishes to other applications
over RabbitMQ (issue 18), served at `GET /asyncapi.json`.

Every message goes to one durable topic exchange (the relay's OUTBOX_EXCHANGE, by default
`linkora.events`) as a persistent JSON message whose AMQP `message_id` is deterministic: a
consumer that meets an id again drops it (delivery is at least once; order is kept per routing
key). A channel here is a routing-key pattern; a consumer binds its own queue with a key
such as `crypto.kline.updated.#`, `crypto.kline.updated.binance.spot.BTCUSDT.*` or `orders.#`.
"""

from __future__ import annotations

import functools
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_server.asyncapi_schemas import EXAMPLES, SCHEMAS, Schema
from linkora_core import broker_messages as bm

# The relay's default OUTBOX_EXCHANGE; the api-server names the one its own setting says.
EXCHANGE: Final = "linkora.events"

_PARAMETERS: Final[dict[str, Schema]] = {
    "exchange": {
        "description": "binance, bybit, okx, whitebit",
        "schema": {"type": "string", "enum": ["binance", "bybit", "okx", "whitebit"]},
    },
    "kind": {
        "description": "The market kind: spot, usdm, linear, swap",
        "schema": {"type": "string"},
    },
    "symbol": {
        "description": "The exchange's spelling (never holds a dot)",
        "schema": {"type": "string", "pattern": r"^[^.#*]+$"},
    },
    "timeframe": {
        "description": "The candle timeframe's label",
        "schema": SCHEMAS["Kline"]["properties"]["timeframe"],
    },
}
_MARKET_KEY: Final = "{exchange}.{kind}.{symbol}"

# (routing key, message name, summary, how its message_id is made)
_CHANNELS: Final = (
    (f"{bm.KLINE}.{_MARKET_KEY}.{{timeframe}}", "Kline",
     "A closed candle of one market and timeframe (those of BROKER_KLINE_TIMEFRAMES)",
     "kline:<exchange>:<kind>:<SYMBOL>:<timeframe>:<open time ms>"),
    (f"{bm.PRICE}.{_MARKET_KEY}", "Price",
     "The live price, throttled per market", "price:<exchange>:<kind>:<SYMBOL>:<sampled ms>"),
    (f"{bm.ORDERBOOK}.{_MARKET_KEY}", "OrderBook",
     "The order book as stored, throttled per market",
     "orderbook:<exchange>:<kind>:<SYMBOL>:<received ms>"),
    (f"{bm.HISTORICAL}.{_MARKET_KEY}", "Historical", "A committed chunk of backfilled candles",
     "historical:<exchange>:<kind>:<SYMBOL>:<first open ms>:<last open ms>"),
    (bm.ORDERS_CREATED, "OrderEvent", "An order was created on the chain",
     "order:<chain id>:<block hash>:<log index>"),
    (bm.ORDERS_EXECUTED, "OrderEvent", "An order was executed",
     "order:<chain id>:<block hash>:<log index>"),
    (bm.ORDERS_CANCELLED, "OrderEvent", "An order was cancelled",
     "order:<chain id>:<block hash>:<log index>"),
    (bm.ORDERS_MODIFIED, "OrderEvent", "An order was modified",
     "order:<chain id>:<block hash>:<log index>"),
    (bm.ORDERS_RETRACTED, "OrderRetracted",
     "A reorganisation removed an order event already announced",
     "retracted:<chain id>:<block hash>:<log index>"),
)  # fmt: skip


def _binding(exchange: str) -> Schema:
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {
                "name": exchange,
                "type": "topic",
                "durable": True,
                "autoDelete": False,
                "vhost": "/",
            },
            "bindingVersion": "0.2.0",
        }
    }


def _channel(key: str, name: str, summary: str, ids: str, exchange: str) -> Schema:
    words = key.split(".")
    channel: Schema = {
        "description": f"{summary}. AMQP message_id: `{ids}`.",
        "subscribe": {
            "operationId": "on" + "".join(w.capitalize() for w in words if "{" not in w),
            "summary": summary,
            "bindings": {"amqp": {"deliveryMode": 2, "ack": True, "bindingVersion": "0.2.0"}},
            "message": {"$ref": f"#/components/messages/{name}"},
        },
        "bindings": _binding(exchange),
    }
    used = [w[1:-1] for w in words if w.startswith("{")]
    if used:
        channel["parameters"] = {p: _PARAMETERS[p] for p in used}
    return channel


def _message(name: str) -> Schema:
    schema = SCHEMAS[name]
    return {
        "name": name,
        "title": name,
        "summary": schema["description"],
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "bindings": {"amqp": {"contentEncoding": "utf-8", "bindingVersion": "0.2.0"}},
        "examples": [{"name": name, "payload": EXAMPLES[name]}],
    }


def build(exchange: str = EXCHANGE) -> dict[str, Any]:
    """The document: a channel per routing-key pattern on `exchange`, a message and schema
    per body."""
    names = sorted({name for _, name, _, _ in _CHANNELS})
    return {
        "asyncapi": "2.6.0",
        "id": "urn:linkora:dex-backend:events",
        "info": {
            "title": "Linkora DEX Backend events",
            "version": "1.0.0",
            "description": __doc__.split("\n\n", 1)[1].strip(),
        },
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "url": "{host}:{port}",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The platform's RabbitMQ (AMQP_URL)",
                "variables": {"host": {"default": "localhost"}, "port": {"default": "5672"}},
            }
        },
        "channels": {
            key: _channel(key, name, summary, ids, exchange)
            for key, name, summary, ids in _CHANNELS
        },
        "components": {"messages": {name: _message(name) for name in names}, "schemas": SCHEMAS},
    }


DOCUMENT: Final = build()


@functools.cache
def _encoded(exchange: str) -> bytes:
    return orjson.dumps(build(exchange))


async def asyncapi_json(request: Request) -> Response:
    """`GET /asyncapi.json`: the document, naming the exchange of OUTBOX_EXCHANGE."""
    return Response(
        _encoded(request.app.state.settings.outbox_exchange), media_type="application/json"
    )


ROUTE: Final = Route("/asyncapi.json", asyncapi_json)
