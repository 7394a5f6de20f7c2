"""Several JSON-RPC providers behind one client, in order of preference, with failover.

A call goes to the first provider that is up. One that does not answer (connection refused,
timeout, HTTP 5xx) or refuses for its rate (HTTP 429, a JSON-RPC rate-limit error) is set aside
and the call goes to the next; the one set aside is tried again after a delay growing from
`RETRY.first` to `RETRY.cap` (or the wait it asked for, when longer), and used again as soon as
it answers. When every provider is set aside the call raises RpcUnavailable, with the wait
until the first is due again as `retry_after`.

With a single provider nothing is set aside: it keeps JsonRpc's own waiting out of rate limits,
and the caller's retry loop decides when to ask again, as with a plain JsonRpc.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from linkora_core.backoff import Backoff, RetryPolicy
from order_system.rpc import Call, JsonRpc, RateLimited, RpcUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY = RetryPolicy(first=1.0, cap=60.0)


def display_name(url: str) -> str:
    """The URL without what may be a credential: user info, query, and a path (as `/…`)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{path}"


class AllProvidersDown(RpcUnavailable):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(eq=False)
class Provider:
    rpc: JsonRpc
    name: str
    down: str | None = None  # why it is set aside; None while up
    retry_at: float = 0.0  # monotonic time it is tried again
    failures: int = 0  # times it was set aside, all told
    _backoff: Backoff = field(default_factory=RETRY.backoff, repr=False)

    def set_aside(self, reason: str, wait: float | None = None) -> None:
        delay = max(self._backoff.next_delay(), wait or 0.0)
        if self.down is None:
            log.warning(
                "provider %s set aside (%s); trying it again in %.1f s", self.name, reason, delay
            )
        self.down = reason
        self.retry_at = time.monotonic() + delay
        self.failures += 1

    def answered(self) -> None:
        if self.down is not None:
            log.warning("provider %s answers again", self.name)
        self.down = None
        self._backoff.reset()

    def due(self, now: float) -> bool:
        return self.down is None or now >= self.retry_at

    def status(self, in_use: bool, now: float) -> dict[str, Any]:
        return {
            "provider": self.name,
            "in_use": in_use,
            "up": self.down is None,
            "down_reason": self.down,
            "retry_in_seconds": None
            if self.down is None
            else round(max(0.0, self.retry_at - now), 1),
            "failures": self.failures,
        }


class Providers:
    """The `Rpc` the indexer uses: `call` and `batch` as on a JsonRpc, with failover."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float = 15.0,
        batch_size: int = 500,
        rate_limit_retries: int = 8,
    ) -> None:
        if not urls:
            raise ValueError("at least one provider URL is needed")
        # Several providers: a rate-limited one is skipped at once rather than waited out.
        retries = rate_limit_retries if len(urls) == 1 else 0
        self.providers = [
            Provider(
                JsonRpc(url, timeout=timeout, batch_size=batch_size, rate_limit_retries=retries),
                display_name(url),
            )
            for url in urls
        ]
        self.current = self.providers[0]
        self.failovers = 0  # times the provider in use changed

    @property
    def rate_limited(self) -> int:
        return sum(provider.rpc.rate_limited for provider in self.providers)

    def _next(self, tried: set[int]) -> Provider | None:
        if len(self.providers) == 1:
            return None if tried else self.providers[0]
        now = time.monotonic()
        for index, provider in enumerate(self.providers):
            if index not in tried and provider.due(now):
                return provider
        return None

    def _all_down(self) -> AllProvidersDown:
        waits = [max(0.0, p.retry_at - time.monotonic()) for p in self.providers]
        reasons = "; ".join(f"{p.name}: {p.down}" for p in self.providers)
        return AllProvidersDown(f"every provider is down ({reasons})", min(waits))

    async def _use(self, send: Callable[[JsonRpc], Awaitable[T]]) -> T:
        tried: set[int] = set()
        while True:
            provider = self._next(tried)
            if provider is None:
                raise self._all_down()
            tried.add(self.providers.index(provider))
            try:
                result = await send(provider.rpc)
            except RpcUnavailable as error:
                if len(self.providers) == 1:
                    raise
                wait = error.retry_after if isinstance(error, RateLimited) else None
                provider.set_aside(str(error).replace(provider.rpc.url, provider.name), wait)
                continue
            provider.answered()
            if provider is not self.current:
                log.warning("now using provider %s (was %s)", provider.name, self.current.name)
                self.current = provider
                self.failovers += 1
            return result

    async def call(self, method: str, params: list[Any]) -> Any:
        return await self._use(lambda rpc: rpc.call(method, params))

    async def batch(self, calls: list[Call]) -> list[Any]:
        return await self._use(lambda rpc: rpc.batch(calls))

    def witnesses(self) -> list[JsonRpc]:
        """The providers other than the one in use that are up, to confirm what it says."""
        return [p.rpc for p in self.providers if p is not self.current and p.down is None]

    def set_aside_current(self, reason: str) -> None:
        """Prefer the others for a while (the one in use lags); no-op with a single provider."""
        if len(self.providers) > 1:
            self.current.set_aside(reason)

    def status(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [p.status(p is self.current, now) for p in self.providers]

    async def head_or_none(self) -> int | None:
        """The latest block number from the first provider that answers (health checks)."""
        for provider in self.providers:
            head = await provider.rpc.head_or_none()
            if head is not None:
                return head
        return None

    async def reconnect(self) -> None:
        for provider in self.providers:
            await provider.rpc.reconnect()

    async def close(self) -> None:
        for provider in self.providers:
            await provider.rpc.close()

    async def __aenter__(self) -> Providers:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
