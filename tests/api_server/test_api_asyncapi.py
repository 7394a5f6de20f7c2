"""The AsyncAPI document served at /asyncapi.json describes every message on the broker: each
routing-key family has a channel whose references resolve, each payload schema is a valid
JSON Schema its example satisfies, and the bodies the collector and the event processor
really write validate against it (their routing keys match the channel's pattern)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from jsonschema import Draft7Validator
from starlette.applications import Starlette

from api_server.asyncapi import DOCUMENT
from linkora_core import broker_messages, market_announcements
from linkora_core.books import Book
from linkora_core.candles import Candle
from linkora_core.markets import parse_market
from linkora_core.outbox import Message
from linkora_core.timeframes import Timeframe
from order_system.events import announcements as orders
from order_system.events.transitions import EventRow, OrderRow
from tests.http_checks import asgi_client

FAMILIES = (
    broker_messages.KLINE, broker_messages.PRICE, broker_messages.ORDERBOOK,
    broker_messages.HISTORICAL, broker_messages.ORDERS_CREATED, broker_messages.ORDERS_EXECUTED,
    broker_messages.ORDERS_CANCELLED, broker_messages.ORDERS_MODIFIED,
    broker_messages.ORDERS_RETRACTED,
)  # fmt: skip


def resolve(ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = DOCUMENT
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def validator(schema_name: str) -> Draft7Validator:
    """The named payload schema, its references resolved within the document."""
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": DOCUMENT["components"]}
    return Draft7Validator(root)


def channel_of(routing_key: str) -> tuple[str, str]:
    """The channel whose pattern the key matches, and its message's schema name."""
    found = []
    for name, channel in DOCUMENT["channels"].items():
        pattern = "^" + re.sub(r"\\\{[a-z]+\\\}", "[^.]+", re.escape(name)) + "$"
        if re.match(pattern, routing_key):
            message = resolve(channel["subscribe"]["message"]["$ref"])
            found.append((name, message["payload"]["$ref"].rsplit("/", 1)[1]))
    assert len(found) == 1, (routing_key, found)
    return found[0]


def assert_documented(message: Message) -> None:
    _, schema = channel_of(message.routing_key)
    errors = list(validator(schema).iter_errors(orjson.loads(message.body)))
    assert errors == [], [e.message for e in errors]


async def test_the_document_is_served_as_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == DOCUMENT


async def test_the_served_document_names_the_configured_exchange(
    make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> None:
    application = make_app(outbox_exchange="dex.events")
    async with (
        application.router.lifespan_context(application),
        asgi_client(application, "http://api") as http,
    ):
        served = (await http.get("/asyncapi.json")).json()
    names = {c["bindings"]["amqp"]["exchange"]["name"] for c in served["channels"].values()}
    assert names == {"dex.events"}
    assert {c["bindings"]["amqp"]["exchange"]["name"] for c in DOCUMENT["channels"].values()} == {
        "linkora.events"
    }


def test_every_routing_key_family_has_a_channel_whose_references_resolve() -> None:
    assert DOCUMENT["asyncapi"] == "2.6.0"
    assert {"title", "version", "description"} <= set(DOCUMENT["info"])
    assert DOCUMENT["servers"]["rabbitmq"]["protocol"] == "amqp"
    channels = DOCUMENT["channels"]
    for family in FAMILIES:
        assert [name for name in channels if name.startswith(family)], family
    for name, channel in channels.items():
        placeholders = re.findall(r"\{([a-z]+)\}", name)
        assert sorted(channel.get("parameters", {})) == sorted(placeholders), name
        assert channel["bindings"]["amqp"]["exchange"]["type"] == "topic"
        assert "message_id" in channel["description"]
        message = resolve(channel["subscribe"]["message"]["$ref"])
        assert message["contentType"] == "application/json"
        resolve(message["payload"]["$ref"])
    assert "TODO" not in str(DOCUMENT)


@pytest.mark.parametrize("name", sorted(DOCUMENT["components"]["messages"]))
def test_each_schema_is_valid_and_its_example_satisfies_it(name: str) -> None:
    message = DOCUMENT["components"]["messages"][name]
    schema_name = message["payload"]["$ref"].rsplit("/", 1)[1]
    Draft7Validator.check_schema(DOCUMENT["components"]["schemas"][schema_name])
    [example] = message["examples"]
    assert list(validator(schema_name).iter_errors(example["payload"])) == []


def test_a_body_off_the_schema_is_refused() -> None:
    example = DOCUMENT["components"]["messages"]["Kline"]["examples"][0]["payload"]
    for bad in ({**example, "close": 37010.5}, {**example, "volume": "1E+3"}, {**example, "x": 1}):
        assert not validator("Kline").is_valid(bad)


def candle(timeframe: Timeframe, trades: int | None) -> Candle:
    tiny = Decimal("5E-8")
    return Candle(
        timeframe.bucket_start(1_709_251_200_000),
        Decimal("67000.10"), Decimal("1E+5"), tiny, Decimal("67000"), Decimal("0E-8"),
        Decimal("123.456"), trades, None if trades is None else tiny,
        None if trades is None else Decimal("1"), timeframe,
    )  # fmt: skip


@pytest.mark.parametrize("market", ["binance:spot:BTCUSDT", "okx:swap:BTC-USDT-SWAP"])
def test_the_collectors_real_bodies_validate(market: str) -> None:
    where = parse_market(market)
    for timeframe in Timeframe:
        for trades in (0, 7, None):
            assert_documented(market_announcements.candle_message(where, candle(timeframe, trades)))
    minute = candle(Timeframe.MINUTE_1, 3)
    assert_documented(market_announcements.price_message(where, minute, False, 1_709_251_212_345))
    book = Book(where, 1_709_251_212_345, 42, ((Decimal("1.50"), Decimal("2E-8")),), ())
    assert_documented(market_announcements.book_message(book))
    assert_documented(
        market_announcements.historical_message(where, 1_709_251_200_000, 1_709_251_260_000, 2)
    )


def test_the_event_processors_real_bodies_validate() -> None:
    at = datetime(2026, 12, 4, 1, 2, 3, tzinfo=UTC)
    user, token = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc", "0x" + "a5" * 20
    tx, block = "0x" + "ab" * 32, "0x" + "cd" * 32
    order = OrderRow(
        5, user, "0x" + "0" * 40, token, Decimal("0.05"), Decimal("0.8944299"),
        Decimal("1E-8"), "LIMIT", True, False, "PENDING", at, None, at, tx, 1228,
    )  # fmt: skip
    executed = order._replace(
        status="EXECUTED", executed_at=at, executor_address=token, amount_out=Decimal("0.0447"),
        execution_tx_hash=tx,
    )  # fmt: skip
    events = [
        EventRow(5, kind, None, status, tx, 1230, block, i, at, {"orderId": 5}, None)
        for i, (kind, status) in enumerate(
            [("CREATED", "PENDING"), ("MODIFIED", "PENDING"), ("EXECUTED", "EXECUTED"),
             ("CANCELLED", "CANCELLED")]
        )
    ]  # fmt: skip
    states = [order, order, executed, order._replace(status="CANCELLED")]
    for decimals in ({"0x" + "0" * 40: 18, token: 6}, {token: None}):
        for delivery in ("instant", "confirmed"):
            for message in orders.event_messages(31337, events, states, decimals, delivery):
                assert_documented(message)
    removed = orders.Removed(5, "EXECUTED", tx, 1230, block, 2)
    for restored in (order, None):
        assert_documented(orders.retraction(31337, removed, user, restored, {}))
