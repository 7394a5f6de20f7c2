"""The order messages other applications receive (issue 18), as outbox rows (pure).

Every applied order event becomes one message, routed `orders.created` / `.executed` /
`.cancelled` / `.modified`, whose id is where the log sits on the chain
(`broker_messages.order_event_id`) and whose body is the event with the order's state after
it, in the order API's shapes (checksummed addresses, plain decimal strings, ISO times)::

    {"message_id": "order:31337:0x9f3c...e1:2", "event_type": "EXECUTED", "chain_id": 31337,
     "order_id": 5, "user_address": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
     "tx_hash": "0x5b1e...", "block_number": 1230, "block_hash": "0x9f3c...e1",
     "log_index": 2, "timestamp": "2026-12-04T01:02:03+00:00",
     "event_data": {"orderId": 5, "executor": "0x7099...", "amountOut": "0.0447"},
     "order": {"id": 5, "user_address": "0x3C44...", "token_in": "0x0000...",
               "token_out": "0xA51c...", "amount_in": "0.05", "target_price": "0.8944299",
               "min_amount_out": "0.04", "order_type": "LIMIT", "is_long": true,
               "status": "EXECUTED", "created_at": "2026-12-04T01:00:00+00:00",
               "executed_at": "2026-12-04T01:02:03+00:00", "self_executable": false,
               "updated_at": "2026-12-04T01:02:03+00:00", "tx_hash": "0x77aa...",
               "block_number": 1228, "executor_address": "0x7099...",
               "amount_out": "0.0447", "execution_tx_hash": "0x5b1e..."}}

A token whose decimals are unknown (its amounts raw units) adds `token_in_decimals` and
`token_out_decimals` (null for the unknown one) to `order`, as the order API does.

When a reorganisation removes an event whose message was already released, an
`orders.retracted` message (id `broker_messages.retraction_id` of the same coordinates) names
it and carries the order as it stands once the event is undone (null: the order no longer
exists on the chain followed)::

    {"message_id": "retracted:31337:0x9f3c...e1:2", "retracted_message_id":
     "order:31337:0x9f3c...e1:2", "retracted_event_type": "EXECUTED", "chain_id": 31337,
     "order_id": 5, "user_address": "0x3C44...", "tx_hash": "0x5b1e...",
     "block_number": 1230, "block_hash": "0x9f3c...e1", "log_index": 2,
     "order": {... "status": "PENDING", "executed_at": null ...} | null}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, NamedTuple

import orjson

from linkora_core import broker_messages
from linkora_core.decimals import to_plain
from linkora_core.outbox import Message
from order_system.addresses import checksum
from order_system.events.transitions import EventRow, OrderRow

Delivery = Literal["instant", "confirmed"]

ROUTING_KEYS: Mapping[str, str] = {
    "CREATED": broker_messages.ORDERS_CREATED,
    "EXECUTED": broker_messages.ORDERS_EXECUTED,
    "CANCELLED": broker_messages.ORDERS_CANCELLED,
    "MODIFIED": broker_messages.ORDERS_MODIFIED,
}


class Removed(NamedTuple):
    """An event a rollback takes off the index: what its retraction names."""

    order_id: int
    event_type: str
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int


def _address(value: str | None) -> str | None:
    return None if value is None else checksum(value)


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else to_plain(value)


def order_state(order: OrderRow, decimals: Mapping[str, int | None]) -> dict[str, Any]:
    """The order as `GET /orders/{id}` shows it (`decimals`: each token's, None unknown),
    for orjson: times stay datetimes, which orjson writes as isoformat() does (UTC,
    "+00:00") at a fraction of the cost, on the processor's hot path."""
    body: dict[str, Any] = {
        "id": order.id,
        "user_address": checksum(order.user_address),
        "token_in": checksum(order.token_in),
        "token_out": checksum(order.token_out),
        "amount_in": to_plain(order.amount_in),
        "target_price": to_plain(order.target_price),
        "min_amount_out": to_plain(order.min_amount_out),
        "order_type": order.order_type,
        "is_long": order.is_long,
        "status": order.status,
        "created_at": order.created_at,
        "executed_at": order.executed_at,
        "self_executable": order.self_executable,
        "updated_at": order.updated_at,
        "tx_hash": order.tx_hash,
        "block_number": order.block_number,
        "executor_address": _address(order.executor_address),
        "amount_out": _decimal(order.amount_out),
        "execution_tx_hash": order.execution_tx_hash,
    }
    token_in, token_out = decimals.get(order.token_in), decimals.get(order.token_out)
    if token_in is None or token_out is None:
        body["token_in_decimals"] = token_in
        body["token_out_decimals"] = token_out
    return body


def event_messages(
    chain_id: int,
    events: Sequence[EventRow],
    states: Sequence[OrderRow],
    decimals: Mapping[str, int | None],
    delivery: Delivery,
) -> list[Message]:
    """One message per event (`states[i]`: the order after `events[i]`), in chain order;
    held (awaiting the confirmation depth) when `delivery` is "confirmed"."""
    held = delivery == "confirmed"
    messages = []
    for event, order in zip(events, states, strict=True):
        message_id = broker_messages.order_event_id(chain_id, event.block_hash, event.log_index)
        body = {
            "message_id": message_id,
            "event_type": event.event_type,
            "chain_id": chain_id,
            "order_id": event.order_id,
            "user_address": checksum(order.user_address),
            "tx_hash": event.tx_hash,
            "block_number": event.block_number,
            "block_hash": event.block_hash,
            "log_index": event.log_index,
            "timestamp": event.occurred_at,
            "event_data": event.event_data,
            "order": order_state(order, decimals),
        }
        messages.append(
            Message(
                message_id,
                ROUTING_KEYS[event.event_type],
                orjson.dumps(body).decode(),
                held,
                event.block_number,
            )
        )
    return messages


def retraction(
    chain_id: int,
    removed: Removed,
    user_address: str,
    restored: OrderRow | None,
    decimals: Mapping[str, int | None],
) -> Message:
    """The `orders.retracted` message of a released event a rollback removed; `restored` is
    the order once the rollback is done (None: it no longer exists). Never held: it undoes
    something already announced."""
    body = {
        "message_id": broker_messages.retraction_id(
            chain_id, removed.block_hash, removed.log_index
        ),
        "retracted_message_id": broker_messages.order_event_id(
            chain_id, removed.block_hash, removed.log_index
        ),
        "retracted_event_type": removed.event_type,
        "chain_id": chain_id,
        "order_id": removed.order_id,
        "user_address": checksum(user_address),
        "tx_hash": removed.tx_hash,
        "block_number": removed.block_number,
        "block_hash": removed.block_hash,
        "log_index": removed.log_index,
        "order": None if restored is None else order_state(restored, decimals),
    }
    return Message(
        str(body["message_id"]),
        broker_messages.ORDERS_RETRACTED,
        orjson.dumps(body).decode(),
        False,
        removed.block_number,
    )
