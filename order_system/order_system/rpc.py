"""Raw JSON-RPC over aiohttp: single calls and batches, with errors kept per call.

A rate-limited request (HTTP 429, or a JSON-RPC error saying so, such as Infura's -32005
"rate limit exceeded") is sent again after the wait the provider asks for (Retry-After, or
the error's backoff_seconds), else after a growing delay; only after `rate_limit_retries`
refusals in a row does the caller see RateLimited.

Exceptions::

    RpcUnavailable     the node did not answer (connection refused, timeout, HTTP error)
      RateLimited      the provider kept refusing for the request rate
    RpcError           the node answered with a JSON-RPC error object
      TooManyResults   an eth_getLogs range the provider refuses as too large
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, Protocol, TypeVar

import aiohttp
import orjson

from linkora_core.backoff import RetryPolicy, pause

_SUGGESTED_RANGE = re.compile(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]")
_TOO_MANY = (
    "more than",
    "too many",
    "response size",
    "limit exceeded",
    "block range",
    "range is too large",
)


_RATE_LIMITED = (
    "rate limit",
    "rate-limit",
    "ratelimit",
    "too many requests",
    "request rate",
    "requests per second",
    "request count exceeded",
    "compute units per second",
    "throughput",
)
# A provider's requested wait is honoured up to this; without one, waits grow to the cap.
MAX_RATE_LIMIT_WAIT = 60.0
RATE_LIMIT_RETRY = RetryPolicy(first=0.5, cap=30.0, jitter=0.0)

log = logging.getLogger(__name__)
T = TypeVar("T")


class RpcUnavailable(ConnectionError):
    """The node did not answer."""


class RateLimited(RpcUnavailable):
    """The provider refused the request for its rate; `retry_after`: the wait it asked for."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after_header(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _backoff_seconds(data: Any) -> float | None:
    """A wait named in the error's data: {"backoff_seconds": n} or {"rate": {...}} (Infura)."""
    if isinstance(data, dict):
        for holder in (data, data.get("rate")):
            if isinstance(holder, dict) and isinstance(holder.get("backoff_seconds"), int | float):
                return max(0.0, float(holder["backoff_seconds"]))
    return None


def _rate_limited(method: str, error: dict[str, Any]) -> RateLimited | None:
    message = str(error.get("message", ""))
    if error.get("code") != 429 and not any(m in message.lower() for m in _RATE_LIMITED):
        return None
    return RateLimited(
        f"{method}: {message} (code {error.get('code')})", _backoff_seconds(error.get("data"))
    )


class RpcError(RuntimeError):
    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.code = int(error.get("code", 0))
        self.message = str(error.get("message", ""))
        self.data = error.get("data")
        super().__init__(f"{method}: {self.message} (code {self.code})")


class TooManyResults(RpcError):
    """`suggested_end`: the last block of the range the provider proposes, when it does."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(method, error)
        match = _SUGGESTED_RANGE.search(self.message)
        self.suggested_end: int | None = int(match[2], 16) if match else None


def _error(method: str, error: dict[str, Any]) -> RpcError:
    message = str(error.get("message", "")).lower()
    if method == "eth_getLogs" and any(marker in message for marker in _TOO_MANY):
        return TooManyResults(method, error)
    return RpcError(method, error)


Call = tuple[str, list[Any]]


class Rpc(Protocol):
    """What the indexer asks of a node: a JsonRpc, or several behind failover (Providers)."""

    async def call(self, method: str, params: list[Any]) -> Any: ...

    async def batch(self, calls: list[Call]) -> list[Any]: ...


@dataclass(eq=False)
class JsonRpc:
    """One HTTP endpoint; `reconnect()` drops the connection pool (the watchdog uses it)."""

    url: str
    _: KW_ONLY
    timeout: float = 15.0
    batch_size: int = 500
    rate_limit_retries: int = 8
    rate_limited: int = field(default=0, init=False)  # refusals for the request rate, all told
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)
    _ids: int = field(default=0, init=False, repr=False)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=16),
            )
        return self._session

    async def _post(self, body: Any) -> Any:
        try:
            async with self._client().post(
                self.url, data=orjson.dumps(body), headers={"Content-Type": "application/json"}
            ) as response:
                payload = await response.read()
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise RpcUnavailable(f"{self.url}: {error!r}") from None
        if status == 429:
            raise RateLimited(f"{self.url} answered HTTP 429", _retry_after_header(retry_after))
        if status >= 500 or (status >= 400 and not payload):
            raise RpcUnavailable(f"{self.url} answered HTTP {status}")
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise RpcUnavailable(f"{self.url} answered invalid JSON: {payload[:200]!r}") from None

    async def _patiently(self, send: Callable[[], Awaitable[T]]) -> T:
        """`send()` again while the provider refuses it for its rate (see the module doc)."""
        backoff = RATE_LIMIT_RETRY.backoff()
        attempt = 0
        while True:
            try:
                return await send()
            except RateLimited as limited:
                self.rate_limited += 1
                attempt += 1
                if attempt > self.rate_limit_retries:
                    raise
                # The wait the provider names wins over our own growing one.
                ours, asked = backoff.next_delay(), limited.retry_after
                wait = min(MAX_RATE_LIMIT_WAIT, ours if asked is None else asked)
                log.warning("rate limited (%s); sending again in %.1f s", limited, wait)
                await pause(wait)

    async def call(self, method: str, params: list[Any]) -> Any:
        return await self._patiently(lambda: self._call(method, params))

    async def _call(self, method: str, params: list[Any]) -> Any:
        self._ids += 1
        answer = await self._post(
            {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
        )
        if not isinstance(answer, dict):
            raise RpcUnavailable(f"{method}: unexpected answer {str(answer)[:200]}")
        if answer.get("error") is not None:
            raise _rate_limited(method, answer["error"]) or _error(method, answer["error"])
        return answer.get("result")

    async def batch(self, calls: list[Call]) -> list[Any]:
        """Results in call order; a call that failed yields its RpcError in its place."""
        chunks = [calls[i : i + self.batch_size] for i in range(0, len(calls), self.batch_size)]
        parts = await asyncio.gather(*(self._patiently(partial(self._batch, c)) for c in chunks))
        return [result for part in parts for result in part]

    async def _batch(self, calls: list[Call]) -> list[Any]:
        if not calls:
            return []
        first = self._ids + 1
        self._ids += len(calls)
        body = [
            {"jsonrpc": "2.0", "id": first + i, "method": method, "params": params}
            for i, (method, params) in enumerate(calls)
        ]
        answer = await self._post(body)
        if not isinstance(answer, list):
            if isinstance(answer, dict) and answer.get("error") is not None:
                error = answer["error"]
                raise _rate_limited(calls[0][0], error) or _error(calls[0][0], error)
            raise RpcUnavailable(f"batch: unexpected answer {str(answer)[:200]}")
        by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
        results: list[Any] = []
        for i, (method, _) in enumerate(calls):
            item = by_id.get(first + i)
            if item is None:
                raise RpcUnavailable(f"batch: no answer for {method} (id {first + i})")
            error = item.get("error")
            if error is not None and (limited := _rate_limited(method, error)) is not None:
                raise limited  # the whole batch is sent again
            results.append(_error(method, error) if error is not None else item.get("result"))
        return results

    async def __aenter__(self) -> JsonRpc:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def head_or_none(self) -> int | None:
        """The latest block number, None when the node does not answer within `timeout` (for
        health checks, which report rather than wait: give them `rate_limit_retries=0`)."""
        try:
            async with asyncio.timeout(self.timeout):
                return int(await self.call("eth_blockNumber", []), 16)
        except (RpcUnavailable, RpcError, TimeoutError, ValueError, TypeError):
            return None

    async def reconnect(self) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
