"""The COPY text rows the writer sends for new orders: exact decimals, NULLs, escaping."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from order_system.events.store import EVENT_COLUMNS, ORDER_COLUMNS, copy_text, event_records
from order_system.events.transitions import EventRow, OrderRow

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


ORDER = OrderRow(
    id=7,
    user_address="0x" + "ab" * 20,
    token_in="0x" + "00" * 20,
    token_out="0x" + "cd" * 20,
    amount_in=Decimal("1.000000000000000001"),
    target_price=Decimal("123456789012345678901234567890.5"),
    min_amount_out=Decimal("0"),
    order_type="LIMIT",
    is_long=True,
    self_executable=False,
    status="PENDING",
    created_at=AT,
    executed_at=None,
    updated_at=AT,
    tx_hash="0x" + "11" * 32,
    block_number=42,
)


def test_a_row_holds_every_column_in_order_with_exact_decimals_and_nulls() -> None:
    fields = copy_text([ORDER]).decode().removesuffix("\n").split("\t")
    assert len(fields) == len(ORDER_COLUMNS)
    values = dict(zip(ORDER_COLUMNS, fields, strict=True))
    assert values["amount_in"] == "1.000000000000000001"
    assert values["target_price"] == "123456789012345678901234567890.5"
    assert values["is_long"] == "t" and values["self_executable"] == "f"
    assert values["executed_at"] == values["executor_address"] == values["amount_out"] == r"\N"
    assert datetime.fromisoformat(values["created_at"]) == AT


def test_strings_from_the_node_cannot_break_the_row() -> None:
    text = copy_text([ORDER._replace(tx_hash="0x1\t2\\3\n4")]).decode()
    assert text.count("\n") == 1 and text.count("\t") == len(ORDER_COLUMNS) - 1
    assert "0x1\\t2\\\\3\\n4" in text


def test_no_orders_no_data() -> None:
    assert copy_text([]) == b""


def test_an_event_row_holds_its_json_and_a_null_snapshot() -> None:
    event = EventRow(
        order_id=7,
        event_type="CANCELLED",
        old_status="PENDING",
        new_status="CANCELLED",
        tx_hash="0x" + "22" * 32,
        block_number=43,
        block_hash="0x" + "33" * 32,
        log_index=2,
        occurred_at=AT,
        event_data={"orderId": 7, "note": 'a "quoted" \\ value'},
        snapshot=None,
    )
    fields = event_records([event]).decode().removesuffix("\n").split("\t")
    values = dict(zip(EVENT_COLUMNS, fields, strict=True))
    assert values["snapshot"] == r"\N"
    # COPY's text format doubles the backslash of JSON's own escapes; PostgreSQL undoes it.
    assert values["event_data"] == '{"orderId":7,"note":"a \\\\"quoted\\\\" \\\\\\\\ value"}'
