"""How a span of 1m klines is cut into requests, and what a page tells us (pure).

A page is a window of at most 1000 minutes asked with startTime and endTime, so windows
never overlap and several can be in flight at once. Walking with startTime only, the next
request starts one minute after the last open time received (`next_start`), never at
start + 1000 minutes + 1 minute, which would skip a minute at every page boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from linkora_core.decimals import parse_decimal
from linkora_core.epoch import MINUTE_MS, floor_minute, minute_close_ms

# MINUTE_MS and floor_minute are re-exported: the collector's loops page in their terms.
__all__ = [
    "MINUTE_MS",
    "PAGE_MINUTES",
    "Window",
    "check_page",
    "finite",
    "floor_minute",
    "holes",
    "minutes_between",
    "missing_minutes",
    "next_start",
    "windows",
]

PAGE_MINUTES = 1000


@dataclass(frozen=True, slots=True)
class Window:
    start_ms: int  # first open time asked for
    end_ms: int  # last open time asked for (inclusive)


def windows(start_ms: int, end_ms: int, minutes: int = PAGE_MINUTES) -> Iterator[Window]:
    """Windows covering open times start_ms..end_ms (inclusive), oldest first."""
    start = floor_minute(start_ms)
    last = floor_minute(end_ms)
    while start <= last:
        stop = min(start + (minutes - 1) * MINUTE_MS, last)
        yield Window(start, stop)
        start = stop + MINUTE_MS


def minutes_between(start_ms: int, end_ms: int) -> int:
    """How many minute open times lie in start_ms..end_ms inclusive."""
    if end_ms < start_ms:
        return 0
    return (floor_minute(end_ms) - floor_minute(start_ms)) // MINUTE_MS + 1


def next_start(page: Sequence[Sequence[Any]]) -> int:
    """startTime of the request after `page` (which must not be empty)."""
    return int(page[-1][0]) + MINUTE_MS


def check_page(page: Sequence[Sequence[Any]], window: Window | None = None) -> None:
    """Raise ValueError unless every row is a 1m kline, in order, inside `window`.

    A row looks like `[1577923200000, "130.72000000", "130.72000000", "130.50000000",
    "130.50000000", "329.42116000", 1577923259999, "43036.38742080", 103, "37.30648000",
    "4870.78650830", "0"]`.
    """
    previous = -1
    for row in page:
        if len(row) != 12:
            raise ValueError(f"a kline has 12 fields, got {len(row)}")
        open_ms, close_ms = row[0], row[6]
        trades = row[8]
        if type(open_ms) is not int or type(close_ms) is not int or not _count(trades):
            raise ValueError(f"kline times and trades must be integers: {row[:1]}")
        if open_ms % MINUTE_MS or close_ms != minute_close_ms(open_ms) or open_ms <= previous:
            raise ValueError(f"kline at {open_ms} is not the next 1m candle")
        previous = open_ms
    outside = (
        window is not None
        and page
        and (page[0][0] < window.start_ms or page[-1][0] > window.end_ms)
    )
    if window is not None and outside:
        raise ValueError(f"klines outside the window {window.start_ms}..{window.end_ms}")


# Kline fields holding decimal text: prices, volumes, quote and taker volumes (these two
# None where the exchange publishes none, as the trade count may be).
_DECIMAL_FIELDS = (1, 2, 3, 4, 5, 7)
_OPTIONAL_DECIMAL_FIELDS = (9, 10)
# Unsigned plain decimal text, one per field, as the exchanges send it: a subset of what
# `parse_decimal` accepts, checked by one match per row (a field holding the separator makes
# one field too many). Anything else takes `parse_decimal`, field by field.
_PLAIN = r"[0-9]+(?:\.[0-9]*)?"
_PLAIN_FIELDS = {
    n: re.compile(rf"(?:{_PLAIN},){{{n - 1}}}{_PLAIN}")
    for n in range(len(_DECIMAL_FIELDS), len(_DECIMAL_FIELDS) + len(_OPTIONAL_DECIMAL_FIELDS) + 1)
}


def _count(value: object) -> bool:
    return value is None or type(value) is int


def finite(row: Sequence[Any]) -> bool:
    """Whether every decimal field of a (checked) kline row is finite decimal text.

    PostgreSQL's numeric accepts 'NaN' and 'Infinity', so they are refused here, at the edge.
    The usual row is settled by one regular-expression match (the backfill's hot path: a
    Decimal per field cost a fifth of the collector's CPU); any other by `parse_decimal`.
    """
    texts = [row[i] for i in _DECIMAL_FIELDS]
    texts += [row[i] for i in _OPTIONAL_DECIMAL_FIELDS if row[i] is not None]
    try:
        if _PLAIN_FIELDS[len(texts)].fullmatch(",".join(texts)) is not None:
            return True
        for text in texts:
            parse_decimal(text)
    except (TypeError, ValueError):  # a field that is not text, or not a finite decimal
        return False
    return True


def holes(previous_open_ms: int | None, page: Sequence[Sequence[Any]]) -> list[tuple[int, int]]:
    """Missing minutes between consecutive open times, as [start, end) ranges.

    `previous_open_ms` is the last open time before this page, when known; minutes missing
    after it and before the page's first row are a hole too.
    """
    out: list[tuple[int, int]] = []
    last = previous_open_ms
    for row in page:
        at = int(row[0])
        if last is not None and at - last > MINUTE_MS:
            out.append((last + MINUTE_MS, at))
        last = at
    return out


def missing_minutes(start_ms: int, end_ms: int, present: Sequence[int]) -> list[tuple[int, int]]:
    """Ranges [start, end) of minutes in start_ms..end_ms (end exclusive) not in `present`.

    `present` holds open times in ascending order.
    """
    out: list[tuple[int, int]] = []
    cursor = floor_minute(start_ms)
    for at in present:
        if at < cursor:
            continue
        if at >= end_ms:
            break
        if at > cursor:
            out.append((cursor, at))
        cursor = at + MINUTE_MS
    if cursor < end_ms:
        out.append((cursor, end_ms))
    return out
