"""Klines read from a CSV file with Binance's 12 REST columns (pure apart from reading).

Sample (the shared ETHUSDT file, header then rows; trailing zeros trimmed by pandas):
    timestamp,open,high,low,close,volume,close_time,quote_volume,trades,...,ignore
    1577923200000,130.72,130.72,130.5,130.5,329.42116,1577923259999,43036.3874208,103,...,0
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from exchange_sim.candle import Candle, from_row


def symbol_of(path: Path) -> str:
    """ETHUSDT_1m.csv -> ETHUSDT."""
    return path.stem.split("_")[0].upper()


def parse_rows(rows: Iterable[list[str]]) -> list[Candle]:
    """Candles from CSV rows; a header row (non-numeric first cell) is skipped."""
    out: list[Candle] = []
    for row in rows:
        if not row or not row[0].strip().isdigit():
            continue
        if len(row) < 11:
            raise ValueError(f"expected 12 kline columns, got {len(row)}: {row}")
        out.append(from_row(row))
    out.sort(key=lambda c: c.open_ms)
    return out


def load_csv(path: Path) -> list[Candle]:
    with path.open(newline="") as f:
        return parse_rows(csv.reader(f))


def shifted(candles: list[Candle], offset_ms: int) -> list[Candle]:
    """The same candles moved in time by a whole number of minutes (for demos on "now")."""
    return [c._replace(open_ms=c.open_ms + offset_ms) for c in candles]
