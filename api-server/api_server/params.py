"""Query parameters of the REST endpoints, validated before anything reaches SQL; each
failure is a BadRequest carrying the exact error string clients already know.

A market is named by `exchange` and `kind` (any case; `linkora_core.markets.venue`) and
`symbol`; without an exchange it is Binance spot, whose symbols keep their earlier rule."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from linkora_core import markets
from linkora_core.epoch import to_ms
from linkora_core.http import BadRequest
from linkora_core.markets import BINANCE_SPOT, VENUES, Market, Venue
from linkora_core.timeframes import Timeframe

SUPPORTED_TIMEFRAMES = [tf.value for tf in Timeframe]
SUPPORTED_LEVELS = [5, 10, 20]
MAX_LIMIT = 5000
_SYMBOL = re.compile(r"[A-Z0-9]{2,20}")
LATEST_MS = 32_503_680_000_000  # 3000-01-01T00:00:00Z
# ASCII digits only: int() also takes "²"-like digits of any script and "1_000", and raises
# beyond 4300 digits. The length cap keeps every value far inside int and the regex cheap.
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}", re.ASCII)
MAX_TEXT = 64
VENUE_KEYS = {venue.key: venue for venue in VENUES}


def venue(query: Mapping[str, str]) -> Venue:
    """The venue `exchange` and `kind` name; Binance spot without them."""
    exchange, kind = query.get("exchange"), query.get("kind")
    if exchange is not None and len(exchange) > MAX_TEXT:
        raise BadRequest("unknown exchange")
    if kind is not None and len(kind) > MAX_TEXT:
        raise BadRequest("unknown kind")
    try:
        return markets.venue(exchange, kind)
    except ValueError as problem:
        raise BadRequest(str(problem)) from None


def symbol(
    query: Mapping[str, str], *, default: str | None = None, venue: Venue = BINANCE_SPOT
) -> str:
    raw = query.get("symbol", default)
    if raw is None or not raw.strip():
        raise BadRequest("symbol parameter is required")
    return valid_symbol(raw, venue)


def valid_symbol(raw: str, venue: Venue) -> str:
    """A symbol as stored; BadRequest("Invalid symbol") otherwise. Binance spot keeps the
    rule it had before other venues (2-20 letters and digits)."""
    value = raw.strip().upper()
    if venue == BINANCE_SPOT:
        if not _SYMBOL.fullmatch(value):
            raise BadRequest("Invalid symbol")
        return value
    try:
        return markets.parse_symbol(value)
    except ValueError:
        raise BadRequest("Invalid symbol") from None


def market(query: Mapping[str, str], *, default: str | None = None) -> Market:
    """The market of `exchange`, `kind` and `symbol`."""
    where = venue(query)
    return Market(where, symbol(query, default=default, venue=where))


def timeframe(query: Mapping[str, str]) -> Timeframe:
    raw = query.get("timeframe", "1")
    try:
        return Timeframe.parse(raw)
    except ValueError:
        raise BadRequest(f"Invalid timeframe. Supported: {SUPPORTED_TIMEFRAMES}") from None


def integer(query: Mapping[str, str], name: str) -> int | None:
    """An optional integer of at most 12 ASCII digits (surrounding spaces allowed)."""
    raw = query.get(name)
    if raw is None:
        return None
    text = raw.strip() if len(raw) <= MAX_TEXT else ""
    if not _INTEGER.fullmatch(text):
        raise BadRequest(f"{name} must be an integer")
    return int(text)


def limit(query: Mapping[str, str], *, default: int = 500) -> int:
    value = integer(query, "limit")
    if value is None:
        return default
    if not 1 <= value <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return value


def levels(query: Mapping[str, str]) -> int:
    value = integer(query, "levels")
    if value is None:
        return 20
    if value not in SUPPORTED_LEVELS:
        raise BadRequest(f"Invalid levels. Supported: {SUPPORTED_LEVELS}")
    return value


def instant(query: Mapping[str, str], name: str) -> int | None:
    """An optional ISO-8601 instant (`Z` allowed, naive means UTC) as epoch ms."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_TEXT:
        raise BadRequest(f"Invalid {name} format")
    try:
        text = raw.strip().replace("Z", "+00:00")
        if "T" in text:
            # An unencoded "+00:00" in a query string arrives as " 00:00".
            text = text.replace(" ", "+")
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        # No candle lies outside these: clamping keeps bucket arithmetic inside datetime's range.
        return max(0, min(LATEST_MS, to_ms(moment.astimezone(UTC))))
    except (ValueError, OverflowError):
        raise BadRequest(f"Invalid {name} format") from None
