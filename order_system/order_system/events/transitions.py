"""Order state transitions: pure functions from decoded events to stored rows.

Two steps keep rollback simple. `event_row` turns a decoded event plus what was read from the
chain (block time, token decimals, the `getOrder` snapshot) into the stored event, with amounts
already scaled; `transition` folds a stored event into the order row. Rebuilding an order after a
rollback is the same fold over the events that remain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any, NamedTuple

from linkora_core.decimals import EXACT, to_plain
from order_system.addresses import checksum
from order_system.events.decoding import ORDER_TYPES, EventKind, OrderEvent, OrderSnapshot

PRICE_DECIMALS = 18
PENDING, EXECUTED, CANCELLED = "PENDING", "EXECUTED", "CANCELLED"


def scale(raw: int, decimals: int) -> Decimal:
    """Raw integer units -> exact Decimal (a uint256 has at most 78 digits: EXACT never rounds)."""
    return Decimal(raw).scaleb(-decimals, EXACT)


def plain(raw: int, decimals: int) -> str:
    """`to_plain(scale(raw, decimals))` for raw >= 0, by string slicing (several times faster
    than going through Decimal, and exact for any number of digits)."""
    digits = str(raw)
    if decimals <= 0 or raw < 0:
        return to_plain(scale(raw, decimals))
    if len(digits) <= decimals:
        digits = "0" * (decimals - len(digits) + 1) + digits
    whole, fraction = digits[:-decimals], digits[-decimals:].rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


@lru_cache(maxsize=4096)
def _utc(timestamp: int) -> datetime:
    """A block's time (the events of one block share it)."""
    return datetime.fromtimestamp(timestamp, UTC)


class OrderRow(NamedTuple):
    """An `orders` row, its fields in the table's column order."""

    id: int
    user_address: str
    token_in: str
    token_out: str
    amount_in: Decimal
    target_price: Decimal
    min_amount_out: Decimal
    order_type: str
    is_long: bool
    self_executable: bool
    status: str
    created_at: datetime
    executed_at: datetime | None
    updated_at: datetime
    tx_hash: str
    block_number: int
    executor_address: str | None = None
    amount_out: Decimal | None = None
    execution_tx_hash: str | None = None


# The columns `transition` changes in an order that is already stored (anything else is set
# once, from the snapshot of the event that starts the order): the writer updates only these.
UPDATED_COLUMNS = (
    "target_price",
    "min_amount_out",
    "status",
    "executed_at",
    "updated_at",
    "executor_address",
    "amount_out",
    "execution_tx_hash",
)


class EventRow(NamedTuple):
    """An `order_events` row; `snapshot` holds the order read at the event's block when the
    event starts an order (its CREATED event, or the first event seen of an older order)."""

    order_id: int
    event_type: str
    old_status: str | None
    new_status: str
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int
    occurred_at: datetime
    event_data: dict[str, Any]
    snapshot: dict[str, Any] | None


def snapshot_data(snapshot: OrderSnapshot, decimals: Callable[[str], int]) -> dict[str, Any]:
    """The stored form of a `getOrder` snapshot: scaled decimal strings, lowercase addresses."""
    return {
        "user": snapshot.user,
        "token_in": snapshot.token_in,
        "token_out": snapshot.token_out,
        "amount_in": plain(snapshot.amount_in, decimals(snapshot.token_in)),
        "target_price": plain(snapshot.target_price, PRICE_DECIMALS),
        "min_amount_out": plain(snapshot.min_amount_out, decimals(snapshot.token_out)),
        "order_type": ORDER_TYPES[snapshot.order_type],
        "is_long": snapshot.is_long,
        "self_executable": snapshot.self_executable,
        "created_at": snapshot.created_at,
    }


def event_data(
    event: OrderEvent, token_in: str | None, token_out: str | None, decimals: Callable[[str], int]
) -> dict[str, Any]:
    """The event's decoded arguments as JSON: amounts as plain decimal strings."""
    data: dict[str, Any] = {"orderId": event.order_id}
    if event.kind is EventKind.CREATED:
        assert event.account and event.token_in and event.token_out and event.amount is not None
        data["user"] = checksum(event.account)
        data["tokenIn"] = checksum(event.token_in)
        data["tokenOut"] = checksum(event.token_out)
        data["amountIn"] = plain(event.amount, decimals(event.token_in))
    elif event.kind is EventKind.EXECUTED:
        assert event.account and event.amount is not None and token_out
        data["executor"] = checksum(event.account)
        data["amountOut"] = plain(event.amount, decimals(token_out))
    elif event.kind is EventKind.CANCELLED:
        assert event.account
        data["user"] = checksum(event.account)
    else:
        assert event.new_target_price is not None and event.new_min_amount_out is not None
        assert token_out
        data["newTargetPrice"] = plain(event.new_target_price, PRICE_DECIMALS)
        data["newMinAmountOut"] = plain(event.new_min_amount_out, decimals(token_out))
    return data


_NEW_STATUS = {
    EventKind.CREATED: PENDING,
    EventKind.EXECUTED: EXECUTED,
    EventKind.CANCELLED: CANCELLED,
}


def event_row(
    event: OrderEvent,
    order: OrderRow | None,
    timestamp: int,
    decimals: Callable[[str], int],
    snapshot: OrderSnapshot | None,
) -> EventRow:
    """The stored event for `event`, given the order as it stands before it (None if unknown;
    then `snapshot` must be the order read at the event's block)."""
    stored = None
    if event.kind is EventKind.CREATED or order is None:
        if snapshot is None:
            raise ValueError(f"order {event.order_id}: {event.kind} needs the getOrder snapshot")
        stored = snapshot_data(snapshot, decimals)
    token_in = order.token_in if order else snapshot.token_in if snapshot else None
    token_out = order.token_out if order else snapshot.token_out if snapshot else None
    old_status = None if event.kind is EventKind.CREATED else order.status if order else PENDING
    new_status = _NEW_STATUS.get(event.kind) or old_status or PENDING
    return EventRow(
        event.order_id,
        event.kind.value,
        old_status,
        new_status,
        event.tx_hash,
        event.block_number,
        event.block_hash,
        event.log_index,
        _utc(timestamp),
        event_data(event, token_in, token_out, decimals),
        stored,
    )


def _from_snapshot(event: EventRow, snapshot: Mapping[str, Any]) -> OrderRow:
    created = event.occurred_at
    if event.event_type != EventKind.CREATED:
        created = datetime.fromtimestamp(int(snapshot["created_at"]), UTC)
    return OrderRow(
        id=event.order_id,
        user_address=snapshot["user"],
        token_in=snapshot["token_in"],
        token_out=snapshot["token_out"],
        amount_in=Decimal(snapshot["amount_in"]),
        target_price=Decimal(snapshot["target_price"]),
        min_amount_out=Decimal(snapshot["min_amount_out"]),
        order_type=snapshot["order_type"],
        is_long=bool(snapshot["is_long"]),
        self_executable=bool(snapshot["self_executable"]),
        status=PENDING,
        created_at=created,
        executed_at=None,
        updated_at=created,
        tx_hash=event.tx_hash,
        block_number=event.block_number,
    )


# Builds an OrderRow from a full tuple of its fields: the hot path's replacement for
# NamedTuple._replace, which goes through keyword arguments and a dict (several times slower).
_row = partial(tuple.__new__, OrderRow)


def transition(order: OrderRow | None, event: EventRow) -> OrderRow:
    """The order after `event`."""
    if event.snapshot is not None and (order is None or event.event_type == EventKind.CREATED):
        order = _from_snapshot(event, event.snapshot)
    if order is None:
        raise ValueError(f"order {event.order_id}: {event.event_type} before any known state")
    data = event.event_data
    at = event.occurred_at
    kind = event.event_type
    # Slices by field position (see OrderRow): 10 status, 12 executed_at, 13 updated_at,
    # 16 executor_address, 17 amount_out, 18 execution_tx_hash.
    if kind == EventKind.EXECUTED:
        return _row(
            (
                *order[:10],
                EXECUTED,
                order[11],
                at,
                at,
                order[14],
                order[15],
                str(data["executor"]).lower(),
                Decimal(data["amountOut"]),
                event.tx_hash,
            )
        )
    if kind == EventKind.CANCELLED:
        return _row((*order[:10], CANCELLED, order[11], order[12], at, *order[14:]))
    if kind == EventKind.MODIFIED:
        return _row(
            (
                *order[:5],
                Decimal(data["newTargetPrice"]),
                Decimal(data["newMinAmountOut"]),
                *order[7:13],
                at,
                *order[14:],
            )
        )
    return order


def rebuild(events: Iterable[EventRow]) -> OrderRow | None:
    """The order from its stored events in chain order; None when none remain."""
    order: OrderRow | None = None
    for event in events:
        order = transition(order, event)
    return order
