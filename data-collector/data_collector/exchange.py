"""What the collector asks of an exchange, whichever it is: a REST source of 1m klines and a
live stream of candles and books. Each venue's adapter (`adapters.py`) provides both.

Exceptions every REST source raises::

    ExchangeError                 base of everything a source raises
    ├── ExchangeBlocked           the exchange refuses this client (WAF, location, IP ban
    │                             beyond what waiting fixes): needs a human
    ├── ExchangeRequestError      any other 4xx: the request itself is wrong (bad symbol...)
    └── ExchangeUnavailable       5xx, timeouts, refused connections, retries exhausted
        └── ExchangeMalformed     an answer not shaped as documented (not JSON, a field missing)

Rate-limit answers (429, 418, a venue's own code) are not raised: the source waits them out
and sends the request again; they are counted in `budget.rejections`.

Kline rows cross this seam in Binance's layout, whatever the exchange sends, so paging,
backfill, audit and catch-up are written once::

    [open_ms, "open", "high", "low", "close", "volume", close_ms, "quote_volume",
     trades | None, "taker_buy_volume" | None, "taker_buy_quote_volume" | None, "0"]

oldest first; decimals are the exchange's own text; a field the exchange does not publish is
None (and stored as NULL).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from linkora_core.markets import Venue

__all__ = [
    "ExchangeBlocked",
    "ExchangeError",
    "ExchangeMalformed",
    "ExchangeRequestError",
    "ExchangeRest",
    "ExchangeUnavailable",
    "LiveStream",
    "RateBudget",
]


class ExchangeError(Exception):
    """Base of the sources' errors."""


class ExchangeBlocked(ExchangeError):
    """The exchange refuses this client; retrying does not help."""


class ExchangeRequestError(ExchangeError):
    def __init__(self, status: int, code: int | str | None, message: str) -> None:
        super().__init__(f"HTTP {status} (code {code}): {message}")
        self.status = status
        self.code = code


class ExchangeUnavailable(ExchangeError):
    """The server did not answer usefully after every retry."""


class ExchangeMalformed(ExchangeUnavailable):
    """An answer that is not what the API documents (callers retry it like an outage)."""


class RateBudget(Protocol):
    """The figures of a source's request pacing that health and logs show."""

    @property
    def limit(self) -> int: ...
    @property
    def used(self) -> int: ...
    @property
    def rejections(self) -> int: ...
    @property
    def allowance(self) -> int: ...


class ExchangeRest(Protocol):
    """One venue's REST market data, paced by its own budget."""

    @property
    def venue(self) -> Venue: ...
    @property
    def page_minutes(self) -> int:
        """The most 1m klines one request returns."""
        ...

    @property
    def finds_next(self) -> bool:
        """`klines(start, end, limit=1)` answers with the next kline that exists, however far
        past `start` (Binance does): an outage is then jumped over instead of walked."""
        ...

    @property
    def budget(self) -> RateBudget: ...
    @property
    def requests(self) -> int: ...
    @property
    def malformed(self) -> int: ...

    def refuse(self, what: str) -> ExchangeMalformed:
        """Count a malformed answer; the error to raise for it."""
        ...

    async def prepare(self) -> None:
        """What the venue needs first (limits, instruments); ExchangeError when it fails."""
        ...

    async def server_time(self) -> int: ...

    async def klines(
        self, symbol: str, start_ms: int, end_ms: int | None = None, limit: int | None = None
    ) -> list[list[Any]]:
        """1m klines opening at or after `start_ms` (and at or before `end_ms`), oldest first,
        at most `limit` (default `page_minutes`), in the layout above."""
        ...

    async def listing_ms(self, symbol: str) -> int | None:
        """The open time of the market's first minute, or None when it has none."""
        ...


class LiveStream(Protocol):
    """A venue's live candles and books for some of its markets, handed to the live sinks;
    reconnects, gap fills after every reconnect and resyncs books by itself."""

    @property
    def connections(self) -> int: ...
    @property
    def connected(self) -> bool: ...
    @property
    def malformed(self) -> int: ...
    @property
    def resyncs(self) -> int:
        """Books found out of sync and rebuilt (0 for streams that keep none)."""
        ...

    async def run(self, stop: asyncio.Event) -> None: ...
