"""Binance USDⓈ-M REST source (an `exchange.ExchangeRest`) on `/fapi/v1`.

Binance counts REQUEST_WEIGHT per IP in wall-clock minutes (2400 on USDⓈ-M; the live figure
is read from exchangeInfo), so the requests are paced by a `weights.WeightBudget` in epoch
seconds, which `rest_calls.get_json` (a sliding, per-request budget on the monotonic clock)
cannot drive; the loop here follows it, with the verdicts of `rest_calls`. The server's
`X-MBX-USED-WEIGHT-1M` is adopted when it is ahead of our count (other clients on the IP).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import orjson

from data_collector import binance_futures_payloads as payloads
from data_collector.exchange import (
    ExchangeBlocked,
    ExchangeMalformed,
    ExchangeRequestError,
    ExchangeUnavailable,
)
from data_collector.rest_calls import (
    REQUEST_RETRY,
    Blocked,
    Judge,
    Ok,
    RateLimited,
    Refused,
    Retry,
    Verdict,
)
from data_collector.settings import CollectorSettings
from data_collector.weights import WeightBudget, request_weight_limit
from linkora_core.epoch import MINUTE_MS
from linkora_core.markets import Venue

log = logging.getLogger(__name__)

WEIGHT_LIMIT = 2400  # USDⓈ-M REQUEST_WEIGHT per minute, until exchangeInfo says otherwise
# limit=1000 costs 5 (200 rows a weight); 1500 costs 10 (150 a weight).
KLINE_PAGE = 1000
DEPTH_LIMIT = 1000  # the snapshot the book sync starts from (weight 20)
_RETRYABLE = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


def kline_weight(limit: int) -> int:
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    return 5 if limit <= 1000 else 10


def depth_weight(limit: int) -> int:
    if limit <= 50:
        return 2
    if limit <= 100:
        return 5
    return 10 if limit <= 500 else 20


def futures_verdict(status: int, body: Any, headers: Mapping[str, str]) -> Verdict:
    """What a `/fapi` answer means: 429 and 418 (an IP ban) are waited out for Retry-After
    seconds, 403 (WAF) and 451 (restricted location) block, other 4xx refuse the request."""
    if status == 200:
        return Ok(body)
    if status in (429, 418):
        wait = _seconds(headers.get("Retry-After"))
        return RateLimited(wait if wait is not None else 60.0 if status == 429 else 120.0)
    if status == 403:
        return Blocked("HTTP 403: WAF limit violated")
    if status == 451:
        return Blocked("HTTP 451: restricted location")
    if status >= 500:
        return Retry(f"HTTP {status}")
    if isinstance(body, dict):
        code = body.get("code")
        return Refused(code if isinstance(code, int) else None, str(body.get("msg", body)))
    return Refused(None, f"HTTP {status}")


class BinanceFuturesRest:
    """Typed calls to `/fapi/v1/*` sharing one session and one weight budget."""

    venue: Venue = payloads.BINANCE_USDM
    page_minutes: int = KLINE_PAGE
    finds_next: bool = True  # a startTime-only query answers with the next kline there is

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        budget: WeightBudget | None = None,
        *,
        timeout: float = 10.0,
        max_attempts: int = 8,
        judge: Judge = futures_verdict,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self.budget = budget if budget is not None else WeightBudget(WEIGHT_LIMIT)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_attempts = max_attempts
        self._judge = judge
        # Epoch seconds (weight windows are wall-clock minutes) and how to wait them out;
        # tests run both faster, with the simulator's limiter on the same clock.
        self._clock = clock
        self._sleep = sleep
        self.requests = 0
        self.weight_sent = 0
        self.reported_weight: int | None = None  # the last X-MBX-USED-WEIGHT-1M seen
        self.malformed = 0
        self._onboard: dict[str, int] = {}

    def refuse(self, what: str) -> ExchangeMalformed:
        self.malformed += 1
        log.warning("malformed answer from Binance USDⓈ-M: %s", what)
        return ExchangeMalformed(what)

    async def prepare(self) -> None:
        """exchangeInfo: its REQUEST_WEIGHT limit, and each symbol's onboard date."""
        body = await self.get("/fapi/v1/exchangeInfo", {}, 1)
        if not isinstance(body, dict) or not isinstance(body.get("symbols"), list):
            raise self.refuse("exchangeInfo answer without a symbols list")
        limit = request_weight_limit(body)
        if limit is not None:
            self.budget.set_limit(limit.limit)
        for entry in body["symbols"]:
            if isinstance(entry, dict) and type(onboard := entry.get("onboardDate")) is int:
                self._onboard[str(entry.get("symbol"))] = onboard

    async def server_time(self) -> int:
        body = await self.get("/fapi/v1/time", {}, 1)
        value = body.get("serverTime") if isinstance(body, dict) else None
        if type(value) is not int:
            raise self.refuse(f"time answer without an integer serverTime: {str(body)[:200]}")
        return value

    async def klines(
        self, symbol: str, start_ms: int, end_ms: int | None = None, limit: int | None = None
    ) -> list[list[Any]]:
        size = limit or KLINE_PAGE
        params = {"symbol": symbol, "interval": "1m", "startTime": str(start_ms)}
        if end_ms is not None:
            params["endTime"] = str(end_ms)
        params["limit"] = str(size)
        body = await self.get("/fapi/v1/klines", params, kline_weight(size))
        try:
            return payloads.kline_rows(body)
        except ValueError as error:
            raise self.refuse(str(error)) from None

    async def depth(self, symbol: str, limit: int = DEPTH_LIMIT) -> Any:
        return await self.get(
            "/fapi/v1/depth", {"symbol": symbol, "limit": str(limit)}, depth_weight(limit)
        )

    async def listing_ms(self, symbol: str) -> int | None:
        """The minute of exchangeInfo's `onboardDate`, else the first kline Binance has."""
        onboard = self._onboard.get(symbol)
        if onboard is not None:
            return onboard - onboard % MINUTE_MS
        rows = await self.klines(symbol, 0, limit=1)
        return int(rows[0][0]) if rows else None

    async def get(self, path: str, params: Mapping[str, str], weight: int) -> Any:
        """One GET paced by the budget, retried on outages; the judged body."""
        url = self._base + path
        backoff = REQUEST_RETRY.backoff()
        failures = 0
        while True:
            while (wait := self.budget.delay(weight, self._clock())) > 0:
                await self._sleep(wait)
            sent_at = self._clock()
            self.requests += 1
            self.weight_sent += weight
            try:
                async with self._session.get(url, params=params, timeout=self._timeout) as resp:
                    status, headers, raw = resp.status, resp.headers, await resp.read()
            except _RETRYABLE as error:
                if isinstance(error, aiohttp.ClientConnectorError):
                    self.budget.refund(weight, sent_at, self._clock())
                failures += 1
                if failures >= self._max_attempts:
                    raise ExchangeUnavailable(f"GET {path} failed: {error!r}") from error
                reason = f"failed ({error!r})"
            else:
                self._observe(headers, sent_at)
                try:
                    body = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    body = None
                    if status == 200:
                        failures += 1
                        malformed = self.refuse(f"GET {path}: not JSON: {raw[:100]!r}")
                        if failures >= self._max_attempts:
                            raise malformed from None
                        await self._pause(backoff.next_delay(), f"GET {path}: not JSON")
                        continue
                verdict = self._judge(status, body, headers)
                if isinstance(verdict, Ok):
                    return verdict.data
                if isinstance(verdict, RateLimited):
                    self.budget.block(verdict.wait, self._clock())
                    log.error("Binance USDⓈ-M HTTP %d on %s: sending nothing for %.0fs",
                              status, path, verdict.wait)  # fmt: skip
                    continue
                if isinstance(verdict, Blocked):
                    raise ExchangeBlocked(f"Binance USDⓈ-M {path}: {verdict.reason}")
                if isinstance(verdict, Refused):
                    raise ExchangeRequestError(status, verdict.code, verdict.message)
                failures += 1
                if failures >= self._max_attempts:
                    raise ExchangeUnavailable(f"GET {path}: {verdict.reason} after {failures}")
                reason = verdict.reason
            await self._pause(backoff.next_delay(), f"GET {path}: {reason}")

    async def _pause(self, delay: float, why: str) -> None:
        log.warning("%s; retry in %.1fs", why, delay)
        await asyncio.sleep(delay)

    def _observe(self, headers: Mapping[str, str], sent_at: float) -> None:
        used = headers.get("X-MBX-USED-WEIGHT-1M")
        if used is not None and used.isdigit():
            self.reported_weight = int(used)
            self.budget.observe(int(used), sent_at, self._clock())


def _seconds(value: str | None) -> float | None:
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


def make_rest(settings: CollectorSettings, session: aiohttp.ClientSession) -> BinanceFuturesRest:
    return BinanceFuturesRest(
        session,
        settings.binance_futures_base_url,
        WeightBudget(WEIGHT_LIMIT, settings.weight_budget_fraction),
        timeout=settings.rest_timeout,
        max_attempts=settings.rest_max_attempts,
    )
