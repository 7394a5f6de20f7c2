"""The DEX's executed and cancelled orders as TradingView UDF marks: the read-only query over
the order system's `orders` table and the mark shapes built from its rows (pure).

Amounts are stored already scaled by each token's decimals, except for a token whose
`token_decimals` row holds NULL (its `decimals()` gave no usable answer): its amounts are raw
units, and the marks say so, as the order API does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from api_server.order_markets import Pair
from linkora_core.db import Executor
from linkora_core.decimals import to_plain
from linkora_core.epoch import to_datetime, to_ms
from linkora_core.timeframes import Timeframe

MAX_MARKS = 1000
EXECUTED, CANCELLED = "EXECUTED", "CANCELLED"
_BUY, _SELL, _GREY = "#26a69a", "#ef5350", "#8a94a6"

_FIELDS = (
    "x.id, x.token_in, x.token_out, x.amount_in, x.amount_out, x.min_amount_out, "
    "x.target_price, x.order_type, x.status"
)
# Per direction of each pair, the newest closed orders in the range, each branch a backward
# range scan: executed ones by (token_in, token_out, executed_at), cancelled ones by
# (token_in, token_out, updated_at) WHERE status = 'CANCELLED' (updated_at is the cancel's block
# time: nothing changes a cancelled order). The cancel's transaction is only in order_events.
_CLOSED_ORDERS = f"""
SELECT o.*,
       din.token_address IS NOT NULL AND din.decimals IS NULL AS token_in_raw,
       dout.token_address IS NOT NULL AND dout.decimals IS NULL AS token_out_raw
FROM unnest($1::text[], $2::text[]) AS p(token_in, token_out)
CROSS JOIN LATERAL (
    (SELECT {_FIELDS}, x.executed_at AS closed_at, x.execution_tx_hash AS closing_tx
     FROM orders x
     WHERE x.token_in = p.token_in AND x.token_out = p.token_out AND x.status = 'EXECUTED'
       AND x.executed_at >= $3 AND x.executed_at < $4
     ORDER BY x.executed_at DESC LIMIT $5)
    UNION ALL
    (SELECT {_FIELDS}, x.updated_at AS closed_at,
            (SELECT e.tx_hash FROM order_events e
             WHERE e.order_id = x.id AND e.event_type = 'CANCELLED'
             ORDER BY e.block_number DESC, e.log_index DESC LIMIT 1) AS closing_tx
     FROM orders x
     WHERE x.token_in = p.token_in AND x.token_out = p.token_out AND x.status = 'CANCELLED'
       AND x.updated_at >= $3 AND x.updated_at < $4
     ORDER BY x.updated_at DESC LIMIT $5)
) AS o
LEFT JOIN token_decimals din ON din.token_address = o.token_in
LEFT JOIN token_decimals dout ON dout.token_address = o.token_out
ORDER BY o.closed_at DESC, o.id DESC
LIMIT $5
"""


@dataclass(frozen=True, slots=True)
class ClosedOrder:
    """An executed or cancelled order, as much of it as a mark shows."""

    id: int
    token_in: str
    token_out: str
    amount_in: Decimal
    amount_out: Decimal | None
    min_amount_out: Decimal
    target_price: Decimal
    order_type: str
    status: str
    closed_at: datetime
    closing_tx: str | None
    token_in_raw: bool
    token_out_raw: bool


async def closed_orders(
    db: Executor, pairs: Sequence[Pair], start_ms: int, end_ms: int, limit: int = MAX_MARKS
) -> list[ClosedOrder]:
    """The newest `limit` orders of these pairs (either direction) executed or cancelled in
    [start_ms, end_ms), oldest first."""
    tokens_in = [p.base for p in pairs] + [p.quote for p in pairs]
    tokens_out = [p.quote for p in pairs] + [p.base for p in pairs]
    rows = await db.fetch(
        _CLOSED_ORDERS, tokens_in, tokens_out, to_datetime(start_ms), to_datetime(end_ms), limit
    )
    return [ClosedOrder(**dict(row)) for row in reversed(rows)]


def _short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def _amount(value: Decimal, token: str, raw: bool) -> str:
    units = " raw units" if raw else ""
    return f"{to_plain(value)}{units} of {_short(token)}"


def is_buy(order: ClosedOrder, pairs: Iterable[Pair]) -> bool:
    """Buying the market's base: the order pays in a pair's quote token."""
    return any(order.token_in == p.quote and order.token_out == p.base for p in pairs)


def tooltip(order: ClosedOrder, buy: bool) -> list[str]:
    """Side, status, amounts, price and transaction, one line each."""
    lines = [
        f"{'Buy' if buy else 'Sell'} · {order.status} · {order.order_type} #{order.id}",
        f"Amount in: {_amount(order.amount_in, order.token_in, order.token_in_raw)}",
    ]
    if order.amount_out is not None:
        out = _amount(order.amount_out, order.token_out, order.token_out_raw)
        lines.append(f"Amount out: {out}")
    else:
        out = _amount(order.min_amount_out, order.token_out, order.token_out_raw)
        lines.append(f"Min amount out: {out}")
    lines.append(f"Price: {to_plain(order.target_price)} USD (target)")
    if order.closing_tx is not None:
        lines.append(f"Tx: {order.closing_tx}")
    return lines


def _bar_time(order: ClosedOrder, timeframe: Timeframe) -> int:
    """The open (epoch seconds) of the bar the order closed in: a mark must sit on a bar."""
    return timeframe.bucket_start(to_ms(order.closed_at)) // 1000


def _color(order: ClosedOrder, buy: bool) -> str:
    if order.status == CANCELLED:
        return _GREY
    return _BUY if buy else _SELL


def marks(
    orders: Iterable[ClosedOrder], pairs: Sequence[Pair], timeframe: Timeframe
) -> dict[str, list[Any]]:
    """UDF `/marks` as a table: one column per field, one row per order."""
    table: dict[str, list[Any]] = {
        name: [] for name in ("id", "time", "color", "text", "label", "labelFontColor", "minSize")
    }
    for order in orders:
        buy = is_buy(order, pairs)
        color = _color(order, buy)
        table["id"].append(order.id)
        table["time"].append(_bar_time(order, timeframe))
        table["color"].append({"border": color, "background": color})
        table["text"].append("\n".join(tooltip(order, buy)))
        table["label"].append("B" if buy else "S")
        table["labelFontColor"].append("#ffffff")
        table["minSize"].append(14 if order.status == EXECUTED else 10)
    return table


def timescale_marks(
    orders: Iterable[ClosedOrder], pairs: Sequence[Pair], timeframe: Timeframe
) -> list[dict[str, Any]]:
    """UDF `/timescale_marks`: a list of marks, the tooltip one line per entry."""
    found = []
    for order in orders:
        buy = is_buy(order, pairs)
        found.append(
            {
                "id": order.id,
                "time": _bar_time(order, timeframe),
                "color": _color(order, buy),
                "label": "B" if buy else "S",
                "tooltip": tooltip(order, buy),
            }
        )
    return found
