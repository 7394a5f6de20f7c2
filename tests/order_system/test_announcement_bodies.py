"""The order messages' bodies (pure): the order after each event in the order API's shape,
decimals plain, the COPY rows the processor writes, retractions."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import pytest

from order_system.events import announcements, order_outbox
from order_system.events.transitions import EventRow, OrderRow

ALICE = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"
KEEPER = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
ETH = "0x" + "00" * 20
USDC = "0xa51c1fc2f0d1a1b8494ed1fe312d7c3a78ed91c0"
ODD = "0xdc64a140aa3e981100a9beca4e685f962f0cf6c9"  # decimals unknown
AT = datetime(2026, 12, 4, 1, 2, 3, tzinfo=UTC)
LATER = datetime(2026, 12, 4, 1, 5, 0, 123456, tzinfo=UTC)


def _order(**changes: Any) -> OrderRow:
    order = OrderRow(
        5, ALICE, ETH, USDC, Decimal("0.05"), Decimal("0.8944299"), Decimal("0.000000000003663159"),
        "LIMIT", True, False, "PENDING", AT, None, AT, "0x" + "ab" * 32, 100,
    )  # fmt: skip
    return order._replace(**changes)


def _event(kind: str, block: int, log_index: int, data: dict[str, object]) -> EventRow:
    return EventRow(
        5, kind, "PENDING", "PENDING", "0x" + "cd" * 32, block, f"0x{block:064X}", log_index,
        LATER, data, None,
    )  # fmt: skip


EVENTS = [
    _event("CREATED", 100, 0, {"orderId": 5, "user": "0x3C44", "amountIn": "0.05"}),
    _event("MODIFIED", 101, 3, {"orderId": 5, "note": 'quote " back\\slash \t tab \u00e9'}),
    _event("EXECUTED", 101, 4, {"orderId": 5, "amountOut": "1000"}),
]
STATES = [
    _order(),
    _order(target_price=Decimal("1E+3"), token_out=ODD),
    _order(
        status="EXECUTED",
        executed_at=LATER,
        updated_at=LATER,
        executor_address=KEEPER,
        amount_out=Decimal("1000.10"),
        execution_tx_hash="0x" + "ef" * 32,
    ),
]
DECIMALS: dict[str, int | None] = {ETH: 18, USDC: 6, ODD: None}


def _copied(rows: bytes) -> list[tuple[str, ...]]:
    """COPY text rows read back as PostgreSQL reads them (only backslashes are escaped)."""
    lines = rows.decode().split("\n")
    assert lines[-1] == ""
    return [tuple(v.replace("\\\\", "\\") for v in line.split("\t")) for line in lines[:-1]]


@pytest.mark.parametrize("delivery", ["instant", "confirmed"])
def test_the_copy_rows_hold_the_messages(delivery: announcements.Delivery) -> None:
    messages = announcements.event_messages(31337, EVENTS, STATES, DECIMALS, delivery)
    held = "t" if delivery == "confirmed" else "f"
    assert _copied(order_outbox.records(messages)) == [
        (m.message_id, m.routing_key, m.body, held, str(m.block_number)) for m in messages
    ]
    assert "\\\\\\\\slash" in order_outbox.records(messages).decode()  # JSON's \\ doubled for COPY
    assert orjson.loads(messages[1].body)["event_data"]["note"] == 'quote " back\\slash \t tab é'


async def test_copied_messages_read_back_as_they_were_made(clean_db: asyncpg.Pool) -> None:
    messages = announcements.event_messages(31337, EVENTS, STATES, DECIMALS, "confirmed")
    async with clean_db.acquire() as connection, connection.transaction():
        await order_outbox.write(connection, order_outbox.records(messages), messages)
        again = [*messages, *announcements.event_messages(31337, EVENTS, STATES, {}, "instant")]
        # ids already there: the copy fails alone, the slower path skips them: nothing twice
        await order_outbox.write(connection, order_outbox.records(again), again)
    rows = await clean_db.fetch(
        "SELECT message_id, routing_key, body, held, block_number FROM outbox ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        (m.message_id, m.routing_key, m.body, m.held, m.block_number) for m in messages
    ]


def test_bodies_carry_the_order_after_the_event_in_the_order_apis_shape() -> None:
    first, modified, executed = (
        orjson.loads(m.body)
        for m in announcements.event_messages(31337, EVENTS, STATES, DECIMALS, "instant")
    )
    assert first["message_id"] == f"order:31337:0x{100:064x}:0"
    assert first["block_hash"] == f"0x{100:064X}"  # as the node gave it; the id is lowercase
    assert first["user_address"] == "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    assert first["timestamp"] == LATER.isoformat()
    assert first["order"]["min_amount_out"] == "0.000000000003663159"
    assert first["order"]["created_at"] == "2026-12-04T01:02:03+00:00"
    assert "token_in_decimals" not in first["order"]
    assert modified["order"]["target_price"] == "1000"
    assert (modified["order"]["token_in_decimals"], modified["order"]["token_out_decimals"]) == (
        18,
        None,
    )
    assert executed["order"]["amount_out"] == "1000.1"
    assert executed["order"]["executor_address"] == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert executed["order"]["executed_at"] == LATER.isoformat()


def test_a_retraction_names_the_event_and_the_order_to_restore() -> None:
    removed = announcements.Removed(5, "EXECUTED", "0x" + "ef" * 32, 101, f"0x{101:064X}", 4)
    message = announcements.retraction(31337, removed, ALICE, _order(), DECIMALS)
    body = orjson.loads(message.body)
    assert (message.routing_key, message.held) == ("orders.retracted", False)
    assert message.message_id == body["message_id"] == f"retracted:31337:0x{101:064x}:4"
    assert body["retracted_message_id"] == f"order:31337:0x{101:064x}:4"
    assert body["retracted_event_type"] == "EXECUTED"
    assert body["order"]["status"] == "PENDING"
    gone = announcements.retraction(31337, removed, ALICE, None, DECIMALS)
    assert orjson.loads(gone.body)["order"] is None
