"""WhiteBIT spot REST source (an `exchange.ExchangeRest`): 1m klines from `/api/v1/public/kline`,
the server time and the markets from `/api/v4/public/*`, paced by one sliding-window budget.

WhiteBIT counts requests per IP and endpoint in 10 s windows (kline 1000, the other public calls
2000); over a limit it answers HTTP 429 with no Retry-After, so the source sends nothing for a
whole window (docs/exchanges/whitebit.md, section 6).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from data_collector import whitebit_payloads
from data_collector.exchange import ExchangeMalformed
from data_collector.request_budget import SlidingBudget
from data_collector.rest_calls import (
    Blocked,
    Judge,
    Ok,
    RateLimited,
    Refused,
    RestCalls,
    Retry,
    Verdict,
    get_json,
)
from data_collector.settings import CollectorSettings
from linkora_core.markets import Venue

KLINE_LIMIT = 1440  # the most rows one kline request returns
# The strictest documented figure of the endpoints called (kline; time and markets: 2000).
REQUESTS_PER_WINDOW = 1000
WINDOW_SECONDS = 10.0


def judge(rate_limit_wait: float) -> Judge:
    """What WhiteBIT's answers mean; a 429 costs `rate_limit_wait` seconds of silence."""

    def verdict(status: int, body: Any, headers: Mapping[str, str]) -> Verdict:
        if status in (429, 418):  # ccxt reads 418 as the same protection
            return RateLimited(rate_limit_wait)
        if status in (403, 451):
            return Blocked(f"HTTP {status}: {_message(body)}")
        if status >= 500:
            return Retry(f"HTTP {status}")
        if status != 200 or (isinstance(body, dict) and body.get("success") is False):
            return Refused(None, f"HTTP {status}: {_message(body)}")
        return Ok(body)

    return verdict


def _message(body: Any) -> str:
    """`message` may be text or a field -> texts map: {"market": ["Market is not available"]}."""
    message = body.get("message") if isinstance(body, dict) else body
    return str(message)[:200]


class WhitebitRest:
    """Typed calls to WhiteBIT's public REST API sharing one session and one budget. Symbols
    are WhiteBIT market names (`BTC_USDT`)."""

    venue: Venue = whitebit_payloads.WHITEBIT_SPOT
    page_minutes: int = KLINE_LIMIT
    # Nothing documents that `start` with a small limit reaches past an empty span to the next
    # kline, so outages are walked page by page.
    finds_next: bool = False

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        budget: SlidingBudget | None = None,
        *,
        timeout: float = 10.0,
        max_attempts: int = 8,
        rate_limit_wait: float = WINDOW_SECONDS,
    ) -> None:
        self.calls = RestCalls(
            session,
            base_url,
            budget or SlidingBudget(REQUESTS_PER_WINDOW, WINDOW_SECONDS),
            "WhiteBIT",
            timeout=timeout,
            max_attempts=max_attempts,
        )
        self._judge = judge(rate_limit_wait)
        self.markets: list[str] = []  # spot market names, after prepare()

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

    async def _get(self, path: str, params: Mapping[str, str]) -> Any:
        return await get_json(self.calls, path, params, judge=self._judge)

    async def prepare(self) -> None:
        body = await self._get("/api/v4/public/markets", {})
        try:
            self.markets = whitebit_payloads.market_names(body)
        except ValueError as error:
            raise self.refuse(f"markets: {error}") from None

    async def server_time(self) -> int:
        body = await self._get("/api/v4/public/time", {})
        try:
            return whitebit_payloads.server_time_ms(body)
        except ValueError:
            raise self.refuse(f"time answer without integer seconds: {body!r:.200}") from None

    async def klines(
        self, symbol: str, start_ms: int, end_ms: int | None = None, limit: int | None = None
    ) -> list[list[Any]]:
        """1m klines opening in start_ms..end_ms, oldest first, at most `limit` (<= 1440)."""
        count = min(limit or KLINE_LIMIT, KLINE_LIMIT)
        # WhiteBIT takes seconds: round inwards so no minute outside the span is asked for.
        params = {"market": symbol, "interval": "1m", "start": str(-(-start_ms // 1000))}
        if end_ms is not None:
            params["end"] = str(end_ms // 1000)
        params["limit"] = str(count)
        body = await self._get("/api/v1/public/kline", params)
        try:
            rows = whitebit_payloads.kline_rows(body)
        except ValueError as error:
            raise self.refuse(f"{symbol} klines: {error}") from None
        inside = [
            row for row in rows if row[0] >= start_ms and (end_ms is None or row[0] <= end_ms)
        ]
        return inside[:count]

    async def listing_ms(self, symbol: str) -> int | None:
        """The earliest kline WhiteBIT returns (its markets carry no listing time)."""
        rows = await self.klines(symbol, 0, limit=1)
        return int(rows[0][0]) if rows else None


def make_rest(settings: CollectorSettings, session: aiohttp.ClientSession) -> WhitebitRest:
    budget = SlidingBudget(REQUESTS_PER_WINDOW, WINDOW_SECONDS, settings.weight_budget_fraction)
    return WhitebitRest(
        session,
        settings.whitebit_base_url,
        budget,
        timeout=settings.rest_timeout,
        max_attempts=settings.rest_max_attempts,
    )
