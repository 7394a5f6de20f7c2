"""Bybit v5 public REST (an `exchange.ExchangeRest`) for one category, spot or linear.

Every request is paced by a `SlidingBudget` under Bybit's per-IP limit, 600 requests in any
5 s, shared by every endpoint (docs/exchanges/bybit.md §6). Going over it is answered with
HTTP 403 "access too frequent" and a ban of at least 10 minutes, which is waited out, as are
retCode 10006/10018; 10009 (IP banned) is a block; other codes are refused requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Final

import aiohttp

from data_collector import bybit_payloads as payloads
from data_collector.exchange import ExchangeMalformed
from data_collector.request_budget import SlidingBudget
from data_collector.rest_calls import (
    Blocked,
    Ok,
    RateLimited,
    Refused,
    RestCalls,
    Retry,
    Verdict,
    get_json,
)
from data_collector.settings import CollectorSettings
from linkora_core.epoch import MINUTE_MS
from linkora_core.markets import Exchange, Kind, Venue

log = logging.getLogger(__name__)

BYBIT_SPOT: Final = Venue(Exchange.BYBIT, Kind.SPOT)
BYBIT_LINEAR: Final = Venue(Exchange.BYBIT, Kind.LINEAR)
IP_LIMIT = 600  # requests per IP in any IP_WINDOW seconds, every endpoint together
IP_WINDOW = 5.0
BAN_SECONDS = 600.0  # "stop all HTTP sessions and wait at least 10 minutes"
KLINE_LIMIT = 1000
_RATE_CODES = (10006, 10018)  # too many visits (per UID), exceeded the IP rate limit
_BANNED = 10009
_SERVER_CODES = (10000, 10016)  # server timeout, server error


def ip_budget(fraction: float = 0.8) -> SlidingBudget:
    return SlidingBudget(IP_LIMIT, IP_WINDOW, fraction)


class BybitRest:
    """GETs under /v5/market/ for `venue`'s category (`spot` or `linear`)."""

    page_minutes: int = KLINE_LIMIT
    # With start and end Bybit answers only inside them: it never points past an empty span.
    finds_next: bool = False

    def __init__(
        self,
        venue: Venue,
        session: aiohttp.ClientSession,
        base_url: str,
        budget: SlidingBudget | None = None,
        *,
        timeout: float = 10.0,
        max_attempts: int = 8,
        ban_seconds: float = BAN_SECONDS,
    ) -> None:
        if venue not in (BYBIT_SPOT, BYBIT_LINEAR):
            raise ValueError(f"{venue} is not a Bybit venue this source serves")
        self.venue = venue
        self.category = venue.kind.value
        self.ban_seconds = ban_seconds
        self.calls = RestCalls(
            session, base_url, budget or ip_budget(), venue.key,
            timeout=timeout, max_attempts=max_attempts,
        )  # fmt: skip
        self.instruments: dict[str, dict[str, Any]] = {}

    @property
    def budget(self) -> SlidingBudget:
        return self.calls.budget

    @property
    def requests(self) -> int:
        return self.calls.requests

    @property
    def malformed(self) -> int:
        return self.calls.malformed

    def refuse(self, what: str) -> ExchangeMalformed:
        return self.calls.refuse(what)

    async def prepare(self) -> None:
        """Load the category's trading instruments (every page)."""
        found: dict[str, dict[str, Any]] = {}
        cursor = ""
        while True:
            params = {"category": self.category, "limit": "1000"}
            if cursor:
                params["cursor"] = cursor
            result = await self._get("/v5/market/instruments-info", params)
            try:
                page, cursor = payloads.instruments(result)
            except ValueError as error:
                raise self.refuse(f"instruments-info: {error}") from None
            found.update(page)
            if not cursor:
                break
        self.instruments = found

    async def server_time(self) -> int:
        result = await self._get("/v5/market/time", {})
        try:
            return payloads.server_ms(result)
        except ValueError as error:
            raise self.refuse(f"time: {error}") from None

    async def klines(
        self, symbol: str, start_ms: int, end_ms: int | None = None, limit: int | None = None
    ) -> list[list[Any]]:
        """1m klines opening in [start_ms, end_ms], oldest first, at most `limit`. The span
        asked for never holds more than `limit` minutes, so Bybit's choice of which end of a
        longer span to answer from does not matter."""
        count = min(limit or KLINE_LIMIT, KLINE_LIMIT)
        first = -(-start_ms // MINUTE_MS) * MINUTE_MS
        last = first + (count - 1) * MINUTE_MS
        if end_ms is not None:
            last = min(last, end_ms)
        if last < first:
            return []
        rows = await self._kline_page(symbol, first, last, count)
        return [row for row in rows if first <= row[0] <= last][:count]

    async def listing_ms(self, symbol: str) -> int | None:
        """Linear: the instrument's launch time; spot (no launch time): the first kline, as
        Bybit answers a `start` with no `end` from the start side."""
        instrument = self.instruments.get(symbol)
        if instrument is not None and (launch := payloads.launch_ms(instrument)) is not None:
            return launch
        rows = await self._kline_page(symbol, 0, None, 1)
        return rows[0][0] if rows else None

    async def _kline_page(
        self, symbol: str, start_ms: int, end_ms: int | None, limit: int
    ) -> list[list[Any]]:
        params = {
            "category": self.category,
            "symbol": symbol,
            "interval": "1",
            "start": str(start_ms),
            "limit": str(limit),
        }
        if end_ms is not None:
            params["end"] = str(end_ms)
        result = await self._get("/v5/market/kline", params)
        try:
            if not isinstance(result, dict):
                raise ValueError("kline result is not an object")
            return payloads.kline_rows(result.get("list"))
        except ValueError as error:
            raise self.refuse(f"kline {symbol}: {error}") from None

    async def _get(self, path: str, params: Mapping[str, str]) -> Any:
        return await get_json(self.calls, path, params, judge=self.judge)

    def judge(self, status: int, body: Any, headers: Mapping[str, str]) -> Verdict:
        """What a Bybit answer means: errors keep HTTP 200 and carry a `retCode`."""
        if status == 403:
            # "access too frequent" (the IP limit); the body is text, not JSON.
            return RateLimited(self.ban_seconds)
        if status == 429:
            return RateLimited(_retry_after(headers) or 1.0)
        if status >= 500:
            return Retry(f"HTTP {status}")
        if status != 200:
            return Refused(status, _message(body))
        if not isinstance(body, dict) or type(body.get("retCode")) is not int:
            self.refuse(f"an answer without Bybit's envelope: {str(body)[:200]}")
            return Retry("no envelope")
        code = body["retCode"]
        if code == 0:
            return Ok(body.get("result"))
        message = str(body.get("retMsg", ""))
        if code in _RATE_CODES:
            return RateLimited(_reset_wait(headers) or self.ban_seconds)
        if code == _BANNED:
            return Blocked(f"retCode {code}: {message}")
        if code in _SERVER_CODES:
            return Retry(f"retCode {code}: {message}")
        return Refused(code, message)


def make_rest(
    settings: CollectorSettings, session: aiohttp.ClientSession, venue: Venue
) -> BybitRest:
    return BybitRest(
        venue, session, settings.bybit_base_url, ip_budget(settings.weight_budget_fraction),
        timeout=settings.rest_timeout, max_attempts=settings.rest_max_attempts,
    )  # fmt: skip


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _reset_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until `X-Bapi-Limit-Reset-Timestamp` (ms), when sent (the per-UID limit)."""
    value = headers.get("X-Bapi-Limit-Reset-Timestamp")
    if value is None or not value.isdigit():
        return None
    return max(1.0, int(value) / 1000 - time.time())


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("retMsg", body))[:200]
    return str(body)[:200]
