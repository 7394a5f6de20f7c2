"""`paging.finite` (one regular-expression match for the usual row) accepts exactly the rows
whose every decimal field `parse_decimal` accepts (property test against the reference)."""

from __future__ import annotations

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from data_collector.paging import finite
from linkora_core.decimals import parse_decimal

# Text near the decimal grammar: digits, signs, points, exponents, and what must be refused.
_PIECES = st.sampled_from(
    ["0", "1", "9", "12", ".", "-", "+", "e", "E", "NaN", "nan", "Infinity", "inf", " ", "_",
     "x", "٣", "1e", ","]
)  # fmt: skip
_TEXT = st.lists(_PIECES, min_size=0, max_size=6).map("".join)


def _reference(row: list[Any]) -> bool:
    try:
        for i in (1, 2, 3, 4, 5, 7, 9, 10):
            if i in (9, 10) and row[i] is None:
                continue
            parse_decimal(row[i])
    except ValueError:
        return False
    return True


def _row(fields: list[str | None]) -> list[Any]:
    a, b, c, d, e, f, g, h = fields
    return [0, a, b, c, d, e, 59_999, f, 1, g, h, "0"]


@given(st.lists(_TEXT, min_size=8, max_size=8), st.sets(st.sampled_from([6, 7])))
@example(["1.5", "2", ".5", "5.", "-1", "+2e3", "1E-8", "0"], set())
@example(["1.5", "2", ".5", "5.", "-1", "NaN", "1", "0"], set())
@example(["1.5", "2", "3", "4", " 5", "6", "7", "8"], set())
@example(["1,5", "2", "3", "4", "5", "6", "7", "8"], set())
@example(["1,5", "2", "3", "4", "5", "6", "7", "8"], {7})
def test_finite_agrees_with_parse_decimal(texts: list[str], absent: set[int]) -> None:
    fields: list[str | None] = list(texts)
    for i in absent:  # the taker volumes an exchange may not publish
        fields[i] = None
    row = _row(fields)
    assert finite(row) is _reference(row)


def test_a_field_that_is_not_text_is_not_finite_text() -> None:
    row = _row(["1", "1", "1", "1", "1", "1", "1", "1"])
    assert finite(row)
    row[2] = 1.5
    assert not finite(row)
