"""Plain decimal strings: the wire never carries 5E-8 or 0E-8."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkora_core.decimals import EXACT, parse_decimal, to_plain


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("0E-8", "0"),
        ("5E-8", "0.00000005"),
        ("131.30000000", "131.3"),
        ("2", "2"),
        ("1E+3", "1000"),
        ("1.23E+5", "123000"),
        ("0.000000000003663159", "0.000000000003663159"),
        ("1E-20", "0.00000000000000000001"),
        ("-1.50", "-1.5"),
        ("-0E-8", "0"),
        ("100.00", "100"),
        ("123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789"),
    ],
)
def test_to_plain_gives_the_shortest_plain_string(value: str, text: str) -> None:
    assert to_plain(Decimal(value)) == text


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_to_plain_refuses_non_finite_values(value: str) -> None:
    with pytest.raises(ValueError, match="finite"):
        to_plain(Decimal(value))


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_to_plain_round_trips_without_exponent_or_trailing_zeros(value: Decimal) -> None:
    text = to_plain(value)
    assert parse_decimal(text) == value
    assert "E" not in text and "e" not in text
    assert not text.endswith(".")
    assert "." not in text or not text.endswith("0")


def test_parse_decimal_keeps_every_digit_binance_sends() -> None:
    parsed = parse_decimal("43036.38742080")
    assert parsed == Decimal("43036.3874208")
    assert str(parsed) == "43036.38742080"


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "inf",
        "-Infinity",
        "",
        "abc",
        "1.2.3",
        "0x10",
        "1_000",
        " 1",
        "1 ",
        "1,5",
    ],
)
def test_parse_decimal_rejects_anything_but_a_finite_decimal(text: str) -> None:
    with pytest.raises(ValueError, match="decimal"):
        parse_decimal(text)


def test_exact_context_raises_instead_of_rounding() -> None:
    huge = Decimal("1" + "0" * 120)
    assert EXACT.add(Decimal("0.1"), Decimal("0.2")) == Decimal("0.3")
    with pytest.raises(ArithmeticError):
        EXACT.add(huge, Decimal("0.1"))
