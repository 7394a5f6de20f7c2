"""The USDⓈ-M order book: the shared stepped book (stepped_book.py) with futures update ids.

An event covering steps (a, b] carries U = first_id(a + 1), u = last_id(b), pu = last_id(a);
first_id skips a few ids after the previous u now and then, because on futures U need not be
pu + 1.
"""

from __future__ import annotations

from typing import ClassVar

from exchange_sim.stepped_book import (
    IDS_PER_STEP,
    LOT,
    MASK,
    STEP_MS,
    WIDTH,
    Diff,
    Level,
    SteppedBook,
    last_id,
    mix,
    step_of,
    step_of_id,
)

__all__ = [
    "IDS_PER_STEP",
    "LOT",
    "STEP_MS",
    "WIDTH",
    "Diff",
    "FuturesBook",
    "Level",
    "first_id",
    "last_id",
    "step_of",
    "step_of_id",
]


def first_id(step: int, key: int = 0) -> int:
    """First id of a step: one after the previous step's last, or a few more."""
    return last_id(step - 1, key) + 1 + mix(key ^ ~step & MASK) % 3


class FuturesBook(SteppedBook):
    SALT: ClassVar[str] = "fapi-book"

    def first_id(self, step: int) -> int:
        return first_id(step, self.key)
