"""Backfill progress on the Redis bus (`bus.PROGRESS`) and on the WebSocket `progress`
subscription, shaped like the earlier system's `reload_progress` (pure)::

    {"exchange":"bybit","kind":"linear","symbol":"BTCUSDT","market":"bybit:linear:BTCUSDT",
     "status":"running","message":"backfilling from 2026-01-01","percent":"42.5",
     "done":223380,"total":525600,"rate":16326,"eta_seconds":18}

`status` is `running`, `done`, `error` or `removed`; `done` and `total` count minutes;
`rate` is candles stored per second recently; `eta_seconds` is null while unknown; `percent`
is a plain decimal string with one decimal (never a float on the wire).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Final, Literal

import orjson

from linkora_core.markets import Market, parse_market

Status = Literal["running", "done", "error", "removed"]
STATUSES: Final = ("running", "done", "error", "removed")


@dataclass(frozen=True, slots=True)
class ProgressReport:
    market: Market
    status: Status
    message: str
    done: int
    total: int
    rate: int
    eta_seconds: int | None

    @property
    def percent(self) -> Decimal:
        return percent(self.done, self.total)


def percent(done: int, total: int) -> Decimal:
    """`done` of `total` in percent, one decimal, rounded down (100.0 when nothing is due)."""
    if total <= 0:
        return Decimal("100.0")
    share = Decimal(100 * min(done, total)) / Decimal(total)
    return share.quantize(Decimal("0.1"), rounding=ROUND_DOWN)


def payload(report: ProgressReport) -> dict[str, Any]:
    return {
        **report.market.names(),
        "status": report.status,
        "message": report.message,
        "percent": format(report.percent, "f"),
        "done": report.done,
        "total": report.total,
        "rate": report.rate,
        "eta_seconds": report.eta_seconds,
    }


def encode(report: ProgressReport) -> bytes:
    return orjson.dumps(payload(report))


def decode(raw: bytes | str) -> ProgressReport:
    """A report from the bus; ValueError for anything else."""
    try:
        data = orjson.loads(raw)
        status = data["status"]
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        eta = data["eta_seconds"]
        return ProgressReport(
            parse_market(data["market"]),
            status,
            str(data["message"]),
            int(data["done"]),
            int(data["total"]),
            int(data["rate"]),
            None if eta is None else int(eta),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"not a progress message: {error}") from None
