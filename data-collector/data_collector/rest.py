"""Binance spot REST client (an `exchange.ExchangeRest`): every request paced by one shared
`WeightBudget`. 403 (WAF) and 451 (restricted location) raise ExchangeBlocked; 429 and 418 are
not raised: the client waits out Retry-After and sends the request again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from data_collector.exchange import (
    ExchangeBlocked,
    ExchangeMalformed,
    ExchangeRequestError,
    ExchangeUnavailable,
)
from data_collector.weights import WeightBudget, request_weight_limit
from linkora_core.backoff import RetryPolicy
from linkora_core.markets import BINANCE_SPOT, Venue

log = logging.getLogger(__name__)

KLINE_WEIGHT = 2
KLINE_LIMIT = 1000
# Retries of one request: a blip is retried within a fraction of a second; with the cap at
# 10 s the default 8 attempts wait about 23 s in all before the caller hears of an outage.
REQUEST_RETRY = RetryPolicy(first=0.2, cap=10.0)
_RETRYABLE = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


def depth_weight(limit: int) -> int:
    if limit <= 100:
        return 5
    if limit <= 500:
        return 25
    if limit <= 1000:
        return 50
    return 250


class BinanceRest:
    """Typed calls to `/api/v3/*` sharing one session and one weight budget. Symbols are
    Binance's; the markets they name are on `venue`."""

    venue: Venue = BINANCE_SPOT
    page_minutes: int = KLINE_LIMIT
    finds_next: bool = True

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        budget: WeightBudget,
        *,
        timeout: float = 10.0,
        max_attempts: int = 8,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self.budget = budget
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_attempts = max_attempts
        self.requests = 0  # requests actually sent
        self.weight_sent = 0
        self.reported_weight: int | None = None  # the last X-MBX-USED-WEIGHT-1M seen
        self.malformed = 0  # answers (or kline rows) refused as not shaped as documented

    def refuse(self, what: str) -> ExchangeMalformed:
        """Count a malformed answer; the error to raise for it."""
        self.malformed += 1
        log.warning("malformed answer from Binance: %s", what)
        return ExchangeMalformed(what)

    async def klines(
        self, symbol: str, start_ms: int, end_ms: int | None = None, limit: int | None = None
    ) -> list[list[Any]]:
        """1m klines opening at or after `start_ms`, oldest first, at most `limit`."""
        params = {"symbol": symbol, "interval": "1m", "startTime": str(start_ms)}
        if end_ms is not None:
            params["endTime"] = str(end_ms)
        params["limit"] = str(limit or KLINE_LIMIT)
        body = await self.get("/api/v3/klines", params, KLINE_WEIGHT)
        if not isinstance(body, list) or not all(isinstance(row, list) for row in body):
            raise self.refuse("klines answer is not a list of rows")
        return body

    async def depth(self, symbol: str, limit: int) -> dict[str, Any]:
        body = await self.get(
            "/api/v3/depth", {"symbol": symbol, "limit": str(limit)}, depth_weight(limit)
        )
        if not isinstance(body, dict):
            raise self.refuse("depth answer is not an object")
        return body

    async def server_time(self) -> int:
        body = await self.get("/api/v3/time", {}, 1)
        value = body.get("serverTime") if isinstance(body, dict) else None
        if type(value) is not int:
            raise self.refuse(f"time answer without an integer serverTime: {str(body)[:200]}")
        return value

    async def listing_ms(self, symbol: str) -> int | None:
        """The first kline Binance has (asked for from the epoch on)."""
        rows = await self.klines(symbol, 0, limit=1)
        return int(rows[0][0]) if rows else None

    async def prepare(self) -> None:
        await self.exchange_info()

    async def exchange_info(self) -> dict[str, Any]:
        """exchangeInfo, also adopting its REQUEST_WEIGHT limit into the budget."""
        body = await self.get("/api/v3/exchangeInfo", {}, 20)
        if not isinstance(body, dict):
            raise self.refuse("exchangeInfo answer is not an object")
        limit = request_weight_limit(body)
        if limit is not None:
            self.budget.set_limit(limit.limit)
        return dict(body)

    async def get(self, path: str, params: Mapping[str, str], weight: int) -> Any:
        """One GET with pacing, Retry-After handling and retries; the decoded JSON body."""
        url = self._base + path
        # No stop event: the caller's task is cancelled on stop.
        backoff = REQUEST_RETRY.backoff()
        failures = 0
        while True:
            await self._reserve(weight)
            sent_at = time.time()
            self.requests += 1
            self.weight_sent += weight
            try:
                async with self._session.get(url, params=params, timeout=self._timeout) as resp:
                    self._observe(resp.headers, sent_at)
                    status = resp.status
                    payload = await resp.read()
                    retry_after = _retry_after(resp.headers)
            except _RETRYABLE as error:
                if isinstance(error, aiohttp.ClientConnectorError):
                    self.budget.refund(weight, sent_at, time.time())
                failures += 1
                if failures >= self._max_attempts:
                    raise ExchangeUnavailable(f"GET {path} failed: {error!r}") from error
                delay = backoff.next_delay()
                log.warning("GET %s failed (%r); retry in %.1fs", path, error, delay)
                await asyncio.sleep(delay)
                continue
            if status == 200:
                try:
                    return orjson.loads(payload)
                except orjson.JSONDecodeError:
                    malformed = self.refuse(f"GET {path}: not JSON: {payload[:100]!r}")
                failures += 1
                if failures >= self._max_attempts:
                    raise malformed
                await backoff.wait()
                continue
            if status in (429, 418):
                default = 60.0 if status == 429 else 120.0
                wait = retry_after if retry_after is not None else default
                self.budget.block(wait, time.time())
                log.error("HTTP %d from Binance: sending nothing for %.0fs", status, wait)
                continue
            if status in (403, 451):
                reason = "WAF limit violated" if status == 403 else "restricted location"
                raise ExchangeBlocked(f"HTTP {status} from {path}: {reason}")
            if status >= 500:
                failures += 1
                if failures >= self._max_attempts:
                    raise ExchangeUnavailable(f"GET {path}: HTTP {status} after {failures} tries")
                delay = backoff.next_delay()
                log.warning("GET %s: HTTP %d; retry in %.1fs", path, status, delay)
                await asyncio.sleep(delay)
                continue
            code, message = _error_body(payload)
            raise ExchangeRequestError(status, code, message)

    async def _reserve(self, weight: int) -> None:
        # A timed wait, not a busy poll: the budget says exactly how long until it has room.
        while (wait := self.budget.delay(weight, time.time())) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)

    def _observe(self, headers: Mapping[str, str], sent_at: float) -> None:
        used = headers.get("X-MBX-USED-WEIGHT-1M") or headers.get("x-mbx-used-weight-1m")
        if used is not None and used.isdigit():
            self.reported_weight = int(used)
            self.budget.observe(int(used), sent_at, time.time())


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_body(payload: bytes) -> tuple[int | None, str]:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None, payload[:200].decode(errors="replace")
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("msg", body))
    return None, str(body)[:200]
