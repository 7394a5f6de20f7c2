"""The golden Binance files (shared/data/binance, beside the repository or at
LINKORA_SHARED_DIR) read as candles, for every test folder that checks against them."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from linkora_core.candles import Candle, parse_kline
from linkora_core.timeframes import BINANCE_INTERVALS

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = (
    Path(os.environ.get("LINKORA_SHARED_DIR") or REPO_ROOT.parent / "shared") / "data" / "binance"
)
ETH_DIR = DATA_DIR / "ethusdt_2020-01"
ETH_MINUTES = ETH_DIR / "ETHUSDT_1m.csv"
_KLINE_INTS = {"timestamp", "close_time", "trades"}


def ms(text: str) -> int:
    """Epoch ms of a UTC time as the files write it (`2020-01-02 04:00:00`, or just a day)."""
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            moment = datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(moment.timestamp()) * 1000
    raise ValueError(text)


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        pytest.fail(f"golden file missing: {path} (set LINKORA_SHARED_DIR to the shared/ folder)")
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def eth_minutes() -> list[Candle]:
    """The twelve-column ETHUSDT minutes, each row parsed as the kline REST returns it."""
    return [
        parse_kline([int(v) if k in _KLINE_INTS else v for k, v in r.items()])
        for r in read_rows(ETH_MINUTES)
    ]


def ohlcv(path: Path, interval: str) -> list[Candle]:
    """The six-column files: no trade count, so every non-volume field is zero."""
    zero = Decimal(0)
    return [
        Candle(
            open_time_ms=ms(r["timestamp"]),
            open=Decimal(r["open"]),
            high=Decimal(r["high"]),
            low=Decimal(r["low"]),
            close=Decimal(r["close"]),
            volume=Decimal(r["volume"]),
            quote_volume=zero,
            trades=0,
            taker_buy_volume=zero,
            taker_buy_quote_volume=zero,
            timeframe=BINANCE_INTERVALS[interval],
        )
        for r in read_rows(path)
    ]
