"""One GET against an exchange's REST API, for the venues' sources: pacing by a budget,
retries of outages with back-off, waiting out rate limits, and the answer sorted by the
venue's own rules (`Verdict`), which say what its statuses and error codes mean.

    body = await get_json(calls, "/v5/market/kline", params, judge=bybit_verdict)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from data_collector.exchange import (
    ExchangeBlocked,
    ExchangeMalformed,
    ExchangeRequestError,
    ExchangeUnavailable,
)
from data_collector.request_budget import SlidingBudget
from linkora_core.backoff import Backoff, RetryPolicy

log = logging.getLogger(__name__)

REQUEST_RETRY = RetryPolicy(first=0.2, cap=10.0)
_RETRYABLE = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)


@dataclass(frozen=True, slots=True)
class Ok:
    data: Any


@dataclass(frozen=True, slots=True)
class RateLimited:
    wait: float  # seconds to send nothing


@dataclass(frozen=True, slots=True)
class Blocked:
    reason: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The request itself is wrong (a bad symbol, a bad parameter)."""

    code: int | str | None
    message: str


@dataclass(frozen=True, slots=True)
class Retry:
    """A server-side failure worth another try."""

    reason: str


Verdict = Ok | RateLimited | Blocked | Refused | Retry
Judge = Callable[[int, Any, Mapping[str, str]], Verdict]
"""(HTTP status, decoded JSON body or None, headers) -> what it means on this venue."""


@dataclass(eq=False)
class RestCalls:
    """What a venue's source shares between its requests, and the counts health shows."""

    session: aiohttp.ClientSession
    base_url: str
    budget: SlidingBudget
    venue_name: str
    timeout: float = 10.0
    max_attempts: int = 8
    requests: int = 0
    malformed: int = 0

    def refuse(self, what: str) -> ExchangeMalformed:
        self.malformed += 1
        log.warning("malformed answer from %s: %s", self.venue_name, what)
        return ExchangeMalformed(what)


@contextlib.contextmanager
def _counted(budget: SlidingBudget) -> Iterator[None]:
    """Around one request `budget.delay` let go: its place counts until a window after its
    answer (or failure); a connection that was never made is refunded."""
    try:
        yield
    except aiohttp.ClientConnectorError:
        budget.refund()
        raise
    except BaseException:
        budget.settle(time.monotonic())
        raise
    budget.settle(time.monotonic())


async def get_json(calls: RestCalls, path: str, params: Mapping[str, str], *, judge: Judge) -> Any:
    """The judged data of one GET; ExchangeBlocked, ExchangeRequestError or (after
    `max_attempts` failures) ExchangeUnavailable / ExchangeMalformed otherwise."""
    url = calls.base_url.rstrip("/") + path
    timeout = aiohttp.ClientTimeout(total=calls.timeout)
    backoff = REQUEST_RETRY.backoff()
    failures = 0
    while True:
        while (wait := calls.budget.delay(time.monotonic())) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)
        calls.requests += 1
        try:
            with _counted(calls.budget):
                async with calls.session.get(url, params=params, timeout=timeout) as response:
                    status, headers = response.status, response.headers
                    payload = await response.read()
        except _RETRYABLE as error:
            failures += 1
            if failures >= calls.max_attempts:
                raise ExchangeUnavailable(f"GET {path} failed: {error!r}") from error
            await _pause(backoff, f"GET {path} failed ({error!r})")
            continue
        try:
            body = orjson.loads(payload) if payload else None
        except orjson.JSONDecodeError:
            body = None
            if status == 200:
                failures += 1
                malformed = calls.refuse(f"GET {path}: not JSON: {payload[:100]!r}")
                if failures >= calls.max_attempts:
                    raise malformed from None
                await _pause(backoff, f"GET {path}: not JSON")
                continue
        verdict = judge(status, body, headers)
        if isinstance(verdict, Ok):
            return verdict.data
        if isinstance(verdict, RateLimited):
            calls.budget.block(verdict.wait, time.monotonic())
            log.error("%s rate limit on %s: sending nothing for %.0fs", calls.venue_name, path,
                      verdict.wait)  # fmt: skip
            continue
        if isinstance(verdict, Blocked):
            raise ExchangeBlocked(f"{calls.venue_name} {path}: {verdict.reason}")
        if isinstance(verdict, Refused):
            raise ExchangeRequestError(status, verdict.code, verdict.message)
        failures += 1
        if failures >= calls.max_attempts:
            raise ExchangeUnavailable(f"GET {path}: {verdict.reason} after {failures} tries")
        await _pause(backoff, f"GET {path}: {verdict.reason}")


async def _pause(backoff: Backoff, why: str) -> None:
    delay = backoff.next_delay()
    log.warning("%s; retry in %.1fs", why, delay)
    await asyncio.sleep(delay)
