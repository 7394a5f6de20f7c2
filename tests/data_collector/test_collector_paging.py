"""Cutting a span of minutes into kline requests (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from data_collector.paging import (
    MINUTE_MS,
    Window,
    check_page,
    holes,
    minutes_between,
    missing_minutes,
    next_start,
    windows,
)


def row(open_ms: int) -> list[Any]:
    return [open_ms, "1.0", "1.0", "1.0", "1.0", "0", open_ms + 59_999, "0", 0, "0", "0", "0"]


def test_windows_cover_every_minute_once_with_at_most_1000_per_request() -> None:
    plan = list(windows(0, 2500 * MINUTE_MS))
    assert plan[0] == Window(0, 999 * MINUTE_MS)
    assert plan[1].start_ms == 1000 * MINUTE_MS  # not 1001 minutes on
    covered = sum(minutes_between(w.start_ms, w.end_ms) for w in plan)
    assert covered == 2501
    assert all(minutes_between(w.start_ms, w.end_ms) <= 1000 for w in plan)


def test_next_start_is_one_minute_after_the_last_open_time() -> None:
    page = [row(i * MINUTE_MS) for i in range(1000)]
    assert next_start(page) == 1000 * MINUTE_MS


def test_holes_between_rows_and_from_the_previous_page() -> None:
    page = [row(5 * MINUTE_MS), row(6 * MINUTE_MS), row(9 * MINUTE_MS)]
    assert holes(2 * MINUTE_MS, page) == [
        (3 * MINUTE_MS, 5 * MINUTE_MS),
        (7 * MINUTE_MS, 9 * MINUTE_MS),
    ]
    assert holes(None, page[:2]) == []


def test_missing_minutes_of_a_range() -> None:
    present = [0, MINUTE_MS, 3 * MINUTE_MS]
    assert missing_minutes(0, 5 * MINUTE_MS, present) == [
        (2 * MINUTE_MS, 3 * MINUTE_MS),
        (4 * MINUTE_MS, 5 * MINUTE_MS),
    ]
    assert missing_minutes(0, 2 * MINUTE_MS, present) == []


@pytest.mark.parametrize(
    "page",
    [
        [row(MINUTE_MS), row(MINUTE_MS)],  # duplicate
        [row(30_000)],  # not minute-aligned
        [[*row(0)[:6], 1, *row(0)[7:]]],  # wrong close time
        [row(0)[:11]],  # 11 fields
        [[*row(0)[:8], "3", *row(0)[9:]]],  # trades as a string
    ],
)
def test_malformed_pages_are_refused(page: list[list[Any]]) -> None:
    with pytest.raises(ValueError):
        check_page(page)


def test_rows_outside_the_window_are_refused() -> None:
    with pytest.raises(ValueError):
        check_page([row(5 * MINUTE_MS)], Window(0, 4 * MINUTE_MS))
