"""Order state transitions as pure functions: scaling by each token's decimals, statuses,
timestamps from blocks, and rebuilding an order from its stored events."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from test_decoding import CANCELLED, CREATED, EXECUTED, GET_ORDER_2, MODIFIED, USDC, WBTC

from linkora_core.decimals import to_plain
from order_system.events.decoding import EventKind, OrderEvent, decode_get_order, decode_log
from order_system.events.transitions import (
    UPDATED_COLUMNS,
    OrderRow,
    event_row,
    plain,
    rebuild,
    scale,
    transition,
)

DECIMALS = {WBTC: 8, USDC: 6, "0x" + "00" * 20: 18}
SNAPSHOT = decode_get_order(GET_ORDER_2)._replace(target_price=59000 * 10**18, min_amount_out=0)


def _event(log: dict[str, Any], order_id: int = 2) -> OrderEvent:
    event = decode_log(log)
    assert event is not None
    return event._replace(order_id=order_id)


def test_created_scales_amounts_by_token_decimals_and_prices_by_18() -> None:
    row = event_row(_event(CREATED), None, 1_700_000_000, DECIMALS.__getitem__, SNAPSHOT)
    order = transition(None, row)
    assert order.amount_in == Decimal("0.01234567")
    assert order.target_price == Decimal("59000")
    assert order.order_type == "STOP" and order.self_executable and not order.is_long
    assert order.status == "PENDING" and order.executed_at is None
    assert order.created_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert row.old_status is None and row.new_status == "PENDING"
    assert row.event_data == {
        "orderId": 2,
        "user": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "tokenIn": "0x0165878A594ca255338adfa4d48449f69242Eb8F",
        "tokenOut": "0xDc64a140Aa3E981100a9becA4E685f962f0cF6C9",
        "amountIn": "0.01234567",
    }


def test_modify_then_execute_uses_the_output_token_decimals_and_block_time() -> None:
    created = event_row(_event(CREATED), None, 100, DECIMALS.__getitem__, SNAPSHOT)
    order = transition(None, created)
    modified = event_row(_event(MODIFIED), order, 200, DECIMALS.__getitem__, None)
    order = transition(order, modified)
    assert (order.target_price, order.min_amount_out) == (Decimal("61000"), Decimal("700"))
    assert modified.event_data == {
        "orderId": 2,
        "newTargetPrice": "61000",
        "newMinAmountOut": "700",
    }
    executed = event_row(_event(EXECUTED), order, 300, DECIMALS.__getitem__, None)
    order = transition(order, executed)
    assert order.status == "EXECUTED" and order.amount_out == Decimal("150")
    assert order.executed_at == order.updated_at == datetime.fromtimestamp(300, UTC)
    assert order.executor_address == "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0"
    assert executed.old_status == "PENDING" and executed.new_status == "EXECUTED"
    assert rebuild([created, modified, executed]) == order
    assert rebuild([created]) == transition(None, created)
    assert rebuild([]) is None


def test_cancel_keeps_executed_at_empty() -> None:
    created = event_row(_event(CREATED, 3), None, 100, DECIMALS.__getitem__, SNAPSHOT)
    order = transition(None, created)
    cancelled = event_row(_event(CANCELLED), order, 150, DECIMALS.__getitem__, None)
    order = transition(order, cancelled)
    assert order.status == "CANCELLED" and order.executed_at is None
    assert order.updated_at == datetime.fromtimestamp(150, UTC)


def test_an_order_first_seen_after_its_creation_starts_from_the_snapshot() -> None:
    executed = event_row(_event(EXECUTED, 2), None, 500, DECIMALS.__getitem__, SNAPSHOT)
    assert executed.snapshot is not None and executed.old_status == "PENDING"
    order = transition(None, executed)
    assert order.status == "EXECUTED" and order.amount_out == Decimal("150")
    assert order.created_at == datetime.fromtimestamp(SNAPSHOT.created_at, UTC)
    assert EventKind(executed.event_type) is EventKind.EXECUTED


def test_huge_raw_amounts_scale_exactly() -> None:
    big = SNAPSHOT._replace(amount_in=2**256 - 1)
    order = transition(None, event_row(_event(CREATED), None, 1, DECIMALS.__getitem__, big))
    digits = str(2**256 - 1)
    assert str(order.amount_in) == f"{digits[:-8]}.{digits[-8:]}"


def test_later_events_change_a_stored_order_only_in_the_columns_the_writer_updates() -> None:
    created = transition(
        None, event_row(_event(CREATED), None, 100, DECIMALS.__getitem__, SNAPSHOT)
    )
    for log in (MODIFIED, EXECUTED, CANCELLED):
        after = transition(
            created, event_row(_event(log), created, 900, DECIMALS.__getitem__, None)
        )
        changed = {c for c in OrderRow._fields if getattr(after, c) != getattr(created, c)}
        assert changed and changed <= set(UPDATED_COLUMNS), log["topics"][0]


def test_plain_scaling_matches_decimal_scaling_for_every_digit_count() -> None:
    for digits in range(1, 79):
        for raw in (10 ** (digits - 1), 10**digits - 1, int("12" * 40) % 10**digits):
            for decimals in (0, 1, 6, 8, 18, 77):
                assert plain(raw, decimals) == to_plain(scale(raw, decimals)), (raw, decimals)
    assert plain(0, 18) == "0" and plain(5 * 10**17, 18) == "0.5"
