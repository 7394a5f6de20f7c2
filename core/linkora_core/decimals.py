"""Decimal strings as they travel on the wire: plain, minimal, never scientific."""

from __future__ import annotations

from decimal import Context, Decimal, Inexact, InvalidOperation

__all__ = ["EXACT", "parse_decimal", "to_plain"]

EXACT = Context(prec=100, traps=[Inexact, InvalidOperation])
"""For sums that must be exact, so that a running total (added to and subtracted from) equals
a fresh sum: a rounding raises ``decimal.Inexact`` instead of drifting silently."""


def to_plain(d: Decimal) -> str:
    """Return the shortest plain decimal string for ``d``.

    ``Decimal("131.30000000")`` -> ``"131.3"``, ``Decimal("5E-8")`` -> ``"0.00000005"``,
    ``Decimal("1E+3")`` -> ``"1000"``, ``Decimal("0E-8")`` -> ``"0"``.
    """
    if not d.is_finite():
        raise ValueError(f"not a finite decimal: {d}")
    # str() is the fastest conversion and already plain for the usual exponents; only the
    # rare exponent forms need format(), which is slower.
    s = str(d)
    if "E" in s:
        s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def plain_or_null(d: Decimal | None) -> str | None:
    """`to_plain`, and None (JSON null) for a figure the exchange does not publish."""
    return None if d is None else to_plain(d)


def parse_decimal(s: str) -> Decimal:
    """Parse a finite decimal string; NaN, Infinity and anything else raise ValueError."""
    try:
        d = Decimal(s)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"not a decimal: {s!r}") from exc
    # Decimal() also accepts digit separators and surrounding whitespace: not a wire format.
    if not d.is_finite() or "_" in s or s != s.strip():
        raise ValueError(f"not a finite decimal: {s!r}")
    return d
