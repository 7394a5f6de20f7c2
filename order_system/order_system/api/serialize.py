"""Rows -> the wire shapes: checksummed addresses, plain decimal strings, ISO times."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from linkora_core.decimals import to_plain
from order_system.addresses import checksum


def _address(value: str | None) -> str | None:
    return None if value is None else checksum(value)


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else to_plain(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def order(row: asyncpg.Record) -> dict[str, Any]:
    """The order in the exact shape existing clients read; an order with a token whose
    decimals are unknown (its amounts raw units) also carries both tokens' decimals."""
    body = {
        "id": row["id"],
        "user_address": _address(row["user_address"]),
        "token_in": _address(row["token_in"]),
        "token_out": _address(row["token_out"]),
        "amount_in": _decimal(row["amount_in"]),
        "target_price": _decimal(row["target_price"]),
        "min_amount_out": _decimal(row["min_amount_out"]),
        "order_type": row["order_type"],
        "is_long": row["is_long"],
        "status": row["status"],
        "created_at": _time(row["created_at"]),
        "executed_at": _time(row["executed_at"]),
    }
    if row["decimals_unknown"]:
        body["token_in_decimals"] = row["token_in_decimals"]
        body["token_out_decimals"] = row["token_out_decimals"]
    return body


def order_details(row: asyncpg.Record) -> dict[str, Any]:
    return {
        **order(row),
        "self_executable": row["self_executable"],
        "updated_at": _time(row["updated_at"]),
        "tx_hash": row["tx_hash"],
        "block_number": row["block_number"],
        "executor_address": _address(row["executor_address"]),
        "amount_out": _decimal(row["amount_out"]),
        "execution_tx_hash": row["execution_tx_hash"],
    }


def event(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "event_type": row["event_type"],
        "old_status": row["old_status"],
        "new_status": row["new_status"],
        "tx_hash": row["tx_hash"],
        "block_number": row["block_number"],
        "timestamp": _time(row["occurred_at"]),
        "event_data": orjson.loads(row["event_data"]),
    }
