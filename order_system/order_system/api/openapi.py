"""The order API's OpenAPI 3.1 document, beside the routes it describes (a test checks that
every HTTP route is documented and every documented path is a route)."""

from __future__ import annotations

from typing import Any

from linkora_core.openapi import (
    Schema,
    decimal,
    document,
    errors,
    get,
    json_response,
    obj,
    path_parameter,
    query,
    ready_schema,
    ref,
    status_paths,
)
from order_system.api.csv_export import HEADER
from order_system.api.params import (
    DEFAULT_LIMIT,
    MAX_DIGITS,
    MAX_ID_DIGITS,
    MAX_LIMIT,
    MAX_OFFSET,
    SORTS,
    STATUSES,
)

_STATUS = {"type": "string", "enum": sorted(STATUSES.values())}
_ADDRESS = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}
_HASH = {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}
_TIME = {"type": "string", "format": "date-time"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


_UNKNOWN_DECIMALS = {
    **_nullable({"type": "integer", "minimum": 0, "maximum": 77}),
    "description": "Present only on an order with a token whose decimals are unknown: the "
    "token's decimals() as indexed, or null: unknown (the token has no code, its decimals() "
    "reverts or answers more than 77), and this token's amounts, here and in the order's "
    "events, are raw integer units",
}
_ORDER_FIELDS: dict[str, Schema] = {
    "id": {"type": "integer", "minimum": 1},
    "user_address": {**_ADDRESS, "description": "Checksummed"},
    "token_in": {**_ADDRESS, "description": "Checksummed; 0x00..00 is ETH"},
    "token_out": {**_ADDRESS, "description": "Checksummed; 0x00..00 is ETH"},
    "amount_in": decimal(
        "In token units (token_in's decimals applied); raw units when token_in_decimals is null"
    ),
    "target_price": decimal("USD per unit of the watched token (18 decimals applied)"),
    "min_amount_out": decimal(
        "In token units of token_out; raw units when token_out_decimals is null"
    ),
    "order_type": {"type": "string", "enum": ["LIMIT", "STOP", "MARKET", "CONDITIONAL"]},
    "is_long": {"type": "boolean"},
    "status": _STATUS,
    "created_at": {**_TIME, "description": "Block time of the creation"},
    "executed_at": {**_nullable(_TIME), "description": "Block time of the execution"},
    "token_in_decimals": _UNKNOWN_DECIMALS,
    "token_out_decimals": _UNKNOWN_DECIMALS,
}
_DECIMALS_WHEN_UNKNOWN = ("token_in_decimals", "token_out_decimals")
_ORDER = obj(_ORDER_FIELDS, optional=_DECIMALS_WHEN_UNKNOWN)
_ORDER_DETAILS = obj(
    {
        **_ORDER_FIELDS,
        "self_executable": {"type": "boolean"},
        "updated_at": _TIME,
        "tx_hash": _HASH,
        "block_number": {"type": "integer", "minimum": 0},
        "executor_address": _nullable(_ADDRESS),
        "amount_out": decimal(
            "In token units of token_out; raw units when token_out_decimals is null",
            nullable=True,
        ),
        "execution_tx_hash": _nullable(_HASH),
    },
    optional=_DECIMALS_WHEN_UNKNOWN,
)
_EVENT = obj(
    {
        "event_type": {"type": "string", "enum": ["CREATED", "EXECUTED", "CANCELLED", "MODIFIED"]},
        "old_status": _nullable(_STATUS),
        "new_status": _STATUS,
        "tx_hash": _HASH,
        "block_number": {"type": "integer", "minimum": 0},
        "timestamp": _TIME,
        "event_data": {
            "type": "object",
            "description": "The event's decoded fields; amounts of a token whose decimals the "
            "order shows as null are raw integer units",
        },
    }
)
_ORDER_LIST = obj(
    {
        "orders": {
            "type": "array",
            "items": ref("Order"),
            "description": "In the `sort` order: newest first unless asked otherwise",
        },
        "total": {
            **_nullable({"type": "integer", "minimum": 0}),
            "description": "Orders in the list; null when a filter other than `status` (and the "
            "user) is given: counting those would read every matching row",
        },
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        "offset": {"type": "integer", "minimum": 0},
        "has_more": {"type": "boolean"},
        "next_cursor": {
            **_nullable({"type": "string", "pattern": "^[0-9A-Za-z_-]+$"}),
            "description": "Pass as `cursor` for the next page (keyset paging), with the same "
            "other parameters. On a list with no filter but `status` and the default sort it "
            "is the id of the page's last order (ASCII digits), as it always was; otherwise an "
            "opaque token bound to the list's filters and sort",
        },
        "status": {"const": "success"},
    }
)
_COUNTS = obj({"total": {"type": "integer", "minimum": 0}, "last_24h": {"type": "integer"}})
_HEALTH = obj(
    {
        "overall_status": {"type": "string", "enum": ["healthy", "unhealthy"]},
        "components": obj(
            {
                "order_api": {"const": "HEALTHY"},
                "database": {"type": "string", "enum": ["HEALTHY", "UNHEALTHY"]},
                "timestamp": _TIME,
                "database_connection": {"type": "string", "pattern": "^(WORKING|ERROR: .*)$"},
                "chain_head": _nullable({"type": "integer"}),
                "processed_block": _nullable({"type": "integer"}),
                "lag_blocks": _nullable({"type": "integer", "minimum": 0}),
                "last_progress_at": _nullable(_TIME),
                "indexer_alert": _nullable({"type": "string"}),
            },
            optional=[
                "chain_head",
                "processed_block",
                "lag_blocks",
                "last_progress_at",
                "indexer_alert",
            ],
            closed=False,
        ),
        "status": {"const": "success"},
    },
    closed=False,
)
_READY = ready_schema("What keeps the API from serving (`database`), with why; empty when ready")

_PAGING = [
    query(
        "limit",
        {"type": "integer", "default": DEFAULT_LIMIT},
        f"Page size; clamped to 1..{MAX_LIMIT}",
    ),
    query(
        "offset",
        {"type": "integer", "default": 0, "maximum": MAX_OFFSET},
        f"Rows to skip; negative means 0. Above {MAX_OFFSET}: 400, page with `cursor`",
    ),
    query(
        "cursor",
        {"type": "string"},
        "Keyset paging: the `next_cursor` of the previous page (then `offset` is ignored). A "
        "cursor made for another filter or sort is a 400",
    ),
]


def _address_filter(name: str, description: str) -> dict[str, Any]:
    return query(name, _ADDRESS, f"{description}; any letter case (else 400)")


def _time_filter(name: str, description: str) -> dict[str, Any]:
    return query(
        name,
        {"type": "string", "format": "date-time"},
        f"{description}. ISO 8601 (`2026-12-01`, `2026-12-01T10:00:00Z`, any offset; none "
        "means UTC); a `_from` after its `_to` is a 400",
    )


_FILTERS = [
    _address_filter(
        "token_in", "Only orders paying this token (0x00..00 is ETH); with `token_out`"
    ),
    _address_filter("token_out", "Only orders buying this token; with `token_in` (a token pair)"),
    query(
        "tx_hash",
        _HASH,
        "Only orders created or executed by this transaction; any letter case (else 400)",
    ),
    _address_filter("executor", "Only orders executed by this address"),
    _time_filter("created_from", "Only orders created at or after this block time"),
    _time_filter("created_to", "Only orders created before this block time"),
    _time_filter("executed_from", "Only orders executed at or after this block time"),
    _time_filter("executed_to", "Only orders executed before this block time"),
    query(
        "sort",
        {"type": "string", "enum": list(SORTS), "default": SORTS[0]},
        "`newest` / `oldest`: by creation (with `created_from`/`created_to`: by creation time, "
        "then id); `newest_executed` / `oldest_executed`: by execution time, then id, only "
        "orders with an execution time. Case-insensitive; anything else is a 400",
    ),
]
_STATUS_FILTER = query(
    "status",
    {"type": "string", "enum": sorted(STATUSES)},
    "Only orders in this status (case-insensitive)",
)
_ORDER_ID = path_parameter(
    "order_id",
    {"type": "integer"},
    f"The contract's order id: ASCII digits, at most {MAX_ID_DIGITS} (else 400); an id past "
    "any stored one is a 404",
)


def _list(summary: str, *extra: Any) -> Schema:
    return get(
        summary,
        {"200": json_response("A page of orders", ref("OrderList")), **errors(400, 503)},
        *extra,
        *_FILTERS,
        *_PAGING,
        description=(
            "Newest first unless `sort` says otherwise; filters combine (AND); time ranges "
            "are half-open, `_from` <= time < `_to`. `limit` is clamped; `offset` is clamped "
            f"at 0 and refused above {MAX_OFFSET} (use `cursor`). Every number is ASCII digits "
            f"with an optional sign, at most {MAX_DIGITS} digits: anything else is a 400."
        ),
    )


_CSV = get(
    "One user's orders as CSV",
    {
        "200": {
            "description": "A header row, then one row per order (RFC 4180, CRLF line ends), "
            "streamed: columns " + ", ".join(f"`{name}`" for name in HEADER) + ". Amounts "
            "are plain decimals, times ISO 8601, addresses checksummed, null is an empty "
            "cell; `raw_units` is true when an amount is in raw units (that token's "
            "`*_decimals` cell is empty: its decimals are unknown). Served as an attachment "
            '(`Content-Disposition: attachment; filename="orders-<address>.csv"`)',
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **errors(400, 503),
    },
    path_parameter("address", _ADDRESS, "Any letter case"),
    _STATUS_FILTER,
    *_FILTERS,
    description="Every order of the user that the filters keep (no paging), in the `sort` "
    "order. Bad parameters are a 400 before any row.",
)


_PATHS: dict[str, Schema] = {
    **status_paths(
        health="Health, with the indexer's progress",
        health_description="Always 200.",
        ready="200 while the database answers, else 503 naming it (a load balancer drains the "
        "replica). The check is reused for about a second.",
    ),
    "/orders/pending": _list("Pending orders"),
    "/orders/executed": _list("Executed orders"),
    "/orders/cancelled": _list("Cancelled orders"),
    "/orders/all": _list("All orders", _STATUS_FILTER),
    "/users/{address}/orders": _list(
        "One user's orders",
        path_parameter("address", _ADDRESS, "Any letter case"),
        _STATUS_FILTER,
    ),
    "/users/{address}/orders.csv": _CSV,
    "/orders/{order_id}": get(
        "One order with its chain details",
        {
            "200": json_response(
                "The order",
                obj({"order": ref("OrderDetails"), "status": {"const": "success"}}),
            ),
            **errors(400, 404, 503),
        },
        _ORDER_ID,
    ),
    "/orders/{order_id}/events": get(
        "One order's events in chain order",
        {
            "200": json_response(
                "The events",
                obj(
                    {
                        "order_id": {"type": "integer"},
                        "events": {"type": "array", "items": ref("OrderEvent")},
                        "total": {"type": "integer", "minimum": 0},
                        "status": {"const": "success"},
                    }
                ),
            ),
            **errors(400, 404, 503),
        },
        _ORDER_ID,
    ),
    "/statistics": get(
        "Order counts per status",
        {
            "200": json_response(
                "Totals and the last 24 hours",
                obj(
                    {
                        "statistics": obj(
                            {status: ref("StatusCounts") for status in sorted(STATUSES.values())}
                        ),
                        "status": {"const": "success"},
                    }
                ),
            ),
            **errors(503),
        },
    ),
}

DOCUMENT = document(
    "Linkora order API",
    "Orders indexed from the trading contract. Amounts are JSON strings holding plain "
    'decimals, addresses are checksummed, errors are `{"error": "..."}`. Live orders: the '
    "WebSocket `/ws/orders` (every order) or `/ws/orders?user=0x...` (one user's, any letter "
    'case) sends `{"type":"orders.created"|"orders.executed"|"orders.cancelled"|'
    '"orders.modified","data":{message_id, event_type, chain_id, order_id, user_address, '
    "tx_hash, block_number, block_hash, log_index, timestamp, event_data, order: the order "
    "after the event, shaped like GET /orders/{order_id}}}` as events are indexed (the same "
    "messages as the broker's order events, in chain order; with ORDER_EVENTS_DELIVERY="
    "confirmed only once ORDER_EVENTS_CONFIRMATIONS deep), and "
    '`{"type":"orders.retracted","data":{message_id, retracted_message_id, '
    "retracted_event_type, order_id, user_address, block_hash, log_index, ..., order: the "
    "order as it stands once the event is undone, or null}}` when a chain reorganisation "
    'removes an event already sent; a `{"type":"heartbeat","timestamp":<ms>}` every '
    'ORDER_WS_HEARTBEAT (30) s; send `{"type":"ping"}` for a `{"type":"pong"}`. An invalid '
    "`user` closes with code 1008 and the reason, as does a connection past "
    "ORDER_WS_MAX_CONNECTIONS_PER_IP (50) from one address; a client too slow to keep up is "
    "closed with 1013 (reconnect; what it missed is not replayed), as is one past "
    "ORDER_WS_MAX_CONNECTIONS (10,000) per process (try again later).",
    _PATHS,
    {
        "Order": _ORDER,
        "OrderDetails": _ORDER_DETAILS,
        "OrderEvent": _EVENT,
        "OrderList": _ORDER_LIST,
        "StatusCounts": _COUNTS,
        "Health": _HEALTH,
        "Ready": _READY,
    },
)
