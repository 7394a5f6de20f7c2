"""OKX v5 REST market data (an `exchange.ExchangeRest`) for spot or swaps, one venue each.

Candles come from `/api/v5/market/candles` while a window lies within its reach (the latest
1,440 bars) and from `/api/v5/market/history-candles` beyond it; both return at most 300
rows, newest first, with `after`/`before` meaning older/newer than (docs/exchanges/okx.md
section 2). OKX limits each endpoint per IP in 2-s windows and documents no ban: every
endpoint has its own `SlidingBudget` (`OkxBudgets`), which spot and swap sources on one IP
should share. 50011 (HTTP 200 or 429) is waited out for one window; 403/451 is a refusal
of this client; other 4xx and non-zero codes are the request's fault; 5xx and OKX's "busy"
codes are retried.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp

from data_collector import okx_payloads, paging
from data_collector.exchange import ExchangeMalformed, ExchangeRequestError
from data_collector.request_budget import SlidingBudget
from data_collector.rest_calls import Blocked, Ok, RateLimited, Refused, RestCalls, Retry, Verdict
from data_collector.rest_calls import get_json as _get_json
from data_collector.settings import CollectorSettings
from linkora_core.decimals import parse_decimal
from linkora_core.epoch import MINUTE_MS, floor_minute
from linkora_core.markets import Exchange, Kind, Venue

__all__ = ["DOCUMENTED_LIMITS", "OkxBudgets", "OkxRest", "judge", "make_rest"]

TIME = "/api/v5/public/time"
INSTRUMENTS = "/api/v5/public/instruments"
CANDLES = "/api/v5/market/candles"
HISTORY = "/api/v5/market/history-candles"
# Requests per IP in any 2-s window (docs/exchanges/okx.md section 6).
DOCUMENTED_LIMITS: Mapping[str, int] = {TIME: 10, INSTRUMENTS: 20, CANDLES: 40, HISTORY: 20}
WINDOW_SECONDS = 2.0
PAGE_MINUTES = 300
CANDLES_REACH = 1440  # bars /market/candles reaches back, the forming one included
# Windows starting this many bars inside the reach go to history-candles too, so a clock
# estimate that is a little behind never asks /candles for bars it no longer has.
REACH_MARGIN = 120
RATE_LIMITED = "50011"
# "Service temporarily unavailable", "systems are busy", "system error": worth a retry.
BUSY = frozenset({"50001", "50013", "50026"})


def judge(status: int, body: Any, headers: Mapping[str, str]) -> Verdict:
    """What an OKX answer means: the envelope's `data` when code is "0"."""
    code = body.get("code") if isinstance(body, dict) else None
    message = str(body.get("msg", "")) if isinstance(body, dict) else ""
    if status == 429 or code == RATE_LIMITED:
        return RateLimited(WINDOW_SECONDS)  # no wait is documented: the window is 2 s
    if status in (403, 451):
        return Blocked(f"HTTP {status} {message}".strip())
    if status >= 500 or code in BUSY:
        return Retry(f"HTTP {status} (code {code}) {message}".strip())
    if status >= 400 or (code is not None and code != "0"):
        return Refused(code, message or f"HTTP {status}")
    return Ok(body)  # shape checked by the caller, which counts a malformed one


@dataclass(eq=False)
class OkxBudgets:
    """One budget per endpoint, shared by every OKX source on this IP; the figures health
    shows are summed over the endpoints."""

    limits: Mapping[str, int] = field(default_factory=lambda: dict(DOCUMENTED_LIMITS))
    window: float = WINDOW_SECONDS
    fraction: float = 0.8
    by_path: dict[str, SlidingBudget] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for path, limit in self.limits.items():
            self.by_path[path] = SlidingBudget(limit, self.window, self.fraction)

    def of(self, path: str) -> SlidingBudget:
        return self.by_path[path]

    @property
    def limit(self) -> int:
        return sum(b.limit for b in self.by_path.values())

    @property
    def used(self) -> int:
        return sum(b.used for b in self.by_path.values())

    @property
    def rejections(self) -> int:
        return sum(b.rejections for b in self.by_path.values())

    @property
    def allowance(self) -> int:
        return sum(b.allowance for b in self.by_path.values())


class OkxRest:
    """1m candles, instruments and server time of one OKX venue (spot or swap); symbols are
    OKX instrument ids (`BTC-USDT`, `BTC-USDT-SWAP`)."""

    page_minutes: int = PAGE_MINUTES
    finds_next: bool = False  # an empty span answers empty: nothing says where data resumes

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        venue: Venue,
        *,
        budgets: OkxBudgets | None = None,
        timeout: float = 10.0,
        max_attempts: int = 8,
    ) -> None:
        if venue.exchange is not Exchange.OKX or venue.kind not in (Kind.SPOT, Kind.SWAP):
            raise ValueError(f"{venue} is not an OKX venue")
        self.venue = venue
        self.budget = budgets if budgets is not None else OkxBudgets()
        self._calls = {
            path: RestCalls(session, base_url, budget, venue.key, timeout, max_attempts)
            for path, budget in self.budget.by_path.items()
        }
        self.instruments: dict[str, dict[str, Any]] = {}
        self._offset_ms = 0  # server clock minus ours, from the last server_time()

    @property
    def inst_type(self) -> str:
        return "SWAP" if self.venue.kind is Kind.SWAP else "SPOT"

    @property
    def requests(self) -> int:
        return sum(calls.requests for calls in self._calls.values())

    @property
    def malformed(self) -> int:
        return sum(calls.malformed for calls in self._calls.values())

    def refuse(self, what: str) -> ExchangeMalformed:
        return self._calls[CANDLES].refuse(what)

    async def prepare(self) -> None:
        """The venue's instruments (for listing times), and the server clock's offset."""
        data = await self._get(INSTRUMENTS, {"instType": self.inst_type})
        instruments: dict[str, dict[str, Any]] = {}
        for entry in data:
            inst_id = entry.get("instId") if isinstance(entry, dict) else None
            if not isinstance(inst_id, str):
                raise self.refuse(f"an instrument without instId: {str(entry)[:200]}")
            instruments[inst_id] = entry
        self.instruments = instruments
        await self.server_time()

    async def server_time(self) -> int:
        sent = _now_ms()
        data = await self._get(TIME, {})
        ts = data[0].get("ts") if data and isinstance(data[0], dict) else None
        if not isinstance(ts, str) or not ts.isdigit():
            raise self.refuse(f"time answer without a ts: {str(data)[:200]}")
        server = int(ts)
        self._offset_ms = server - (sent + _now_ms()) // 2
        return server

    def base_per_size(self, symbol: str) -> Decimal:
        """What one unit of a book size is in the base currency: 1 on spot, `ctVal` x
        `ctMult` on swaps, whose books count contracts (0.01 BTC each on BTC-USDT-SWAP)."""
        if self.venue.kind is not Kind.SWAP:
            return Decimal(1)
        entry = self.instruments.get(symbol, {})
        value, multiplier = entry.get("ctVal"), entry.get("ctMult") or "1"
        try:
            unit = parse_decimal(str(value)) * parse_decimal(str(multiplier))
        except ValueError:
            unit = Decimal(0)
        if unit <= 0:
            raise self.refuse(f"{symbol}: no contract value (ctVal {value!r} x {multiplier!r})")
        return unit

    async def listing_ms(self, symbol: str) -> int | None:
        """The instrument's `listTime`, floored to its minute (None when OKX gives none)."""
        if symbol not in self.instruments:
            data = await self._get(INSTRUMENTS, {"instType": self.inst_type, "instId": symbol})
            for entry in data:
                if isinstance(entry, dict) and entry.get("instId") == symbol:
                    self.instruments[symbol] = entry
        entry = self.instruments.get(symbol)
        if entry is None:
            raise ExchangeRequestError(200, None, f"{self.venue} has no instrument {symbol}")
        listed = entry.get("listTime")
        if not isinstance(listed, str) or not listed.isdigit():
            return None
        return floor_minute(int(listed))

    async def klines(
        self, symbol: str, start_ms: int, end_ms: int | None = None, limit: int | None = None
    ) -> list[list[Any]]:
        """Closed 1m klines opening in start_ms..end_ms, oldest first, at most `limit`.

        Without a limit, a window longer than a page (the audit asks 1000 minutes) is
        fetched page by page and returned whole."""
        if limit is None and end_ms is not None:
            rows: list[list[Any]] = []
            for window in paging.windows(start_ms, end_ms, PAGE_MINUTES):
                rows += await self._page(symbol, window.start_ms, window.end_ms, PAGE_MINUTES)
            return rows
        count = min(limit or PAGE_MINUTES, PAGE_MINUTES)
        last = floor_minute(start_ms + MINUTE_MS - 1) + (count - 1) * MINUTE_MS
        if end_ms is not None:
            last = min(last, end_ms)
        return await self._page(symbol, start_ms, last, count)

    async def _page(self, symbol: str, first_ms: int, last_ms: int, count: int) -> list[list[Any]]:
        if last_ms < first_ms:
            return []
        params = {
            "instId": symbol,
            "bar": "1m",
            "before": str(max(first_ms - 1, 0)),  # newer than: open >= first_ms
            "after": str(last_ms + 1),  # older than: open <= last_ms
            "limit": str(count),
        }
        data = await self._get(self._candles_path(first_ms), params)
        try:
            return okx_payloads.closed_rows(data, self.venue)
        except ValueError as error:
            raise self.refuse(f"{symbol} candles: {error}") from None

    def _candles_path(self, first_ms: int) -> str:
        """/candles for a window it reaches, history-candles otherwise (by the server's
        clock as last measured)."""
        newest = floor_minute(_now_ms() + self._offset_ms)
        reach_start = newest - (CANDLES_REACH - 1 - REACH_MARGIN) * MINUTE_MS
        return CANDLES if first_ms >= reach_start else HISTORY

    async def _get(self, path: str, params: Mapping[str, str]) -> list[Any]:
        body = await _get_json(self._calls[path], path, params, judge=judge)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise self._calls[path].refuse(f"GET {path}: not OKX's envelope: {str(body)[:200]}")
        return data


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def make_rest(
    settings: CollectorSettings,
    session: aiohttp.ClientSession,
    venue: Venue,
    budgets: OkxBudgets | None = None,
) -> OkxRest:
    """The source of `venue` (okx-spot or okx-swap); pass the same `budgets` to both
    venues' sources, since OKX counts requests per IP."""
    if budgets is None:
        budgets = OkxBudgets(fraction=settings.weight_budget_fraction)
    return OkxRest(
        session, settings.okx_base_url, venue, budgets=budgets,
        timeout=settings.rest_timeout, max_attempts=settings.rest_max_attempts,
    )  # fmt: skip
