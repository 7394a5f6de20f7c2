"""Per-client-IP rate limiting for the platform's HTTP APIs.

`TokenBucket` is the pure rule (a steady `rate` per second with bursts up to `burst`);
`RateLimitMiddleware` applies one bucket per client IP to HTTP requests and answers 429 with
`Retry-After` when it is empty. The client IP is the TCP peer, unless that peer is a
configured trusted proxy: then `X-Forwarded-For` is read from the right, skipping trusted
proxies, so a client cannot choose its own address by sending the header itself."""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ClientAddress", "RateLimitMiddleware", "RateLimiter", "TokenBucket"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: int
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, burst: int, now: float) -> TokenBucket:
        return cls(rate, burst, float(burst), now)

    def take(self, now: float) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is available."""
        wait = self.wait(now)
        if wait == 0.0:
            self.tokens -= 1.0
        return wait

    def wait(self, now: float) -> float:
        """The seconds until a token is available (0.0: now), spending none."""
        if now > self.updated:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.tokens >= 1.0:
            return 0.0
        if self.rate <= 0:
            return math.inf
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per key, forgetting the least recently seen keys beyond `max_keys`."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst = rate, burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def check(self, key: str) -> float:
        """0.0 when `key` may proceed, else the seconds to wait."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket.full(self.rate, self.burst, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)

    def wait(self, key: str) -> float:
        """What `check` would answer, without spending: for limits counting only failures."""
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.wait(self._clock())


class ClientAddress:
    """Finds the client IP of an ASGI scope, trusting `X-Forwarded-For` only from proxies."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self._trusted: list[_Network] = [
            ipaddress.ip_network(entry.strip(), strict=False) for entry in trusted_proxies
        ]

    def is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def __call__(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if not self._trusted or not self.is_trusted(peer):
            return peer
        forwarded: list[str] = []
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                forwarded += [part.strip() for part in value.decode("latin-1").split(",")]
        for hop in reversed(forwarded):
            if hop and not self.is_trusted(hop):
                return hop
        return peer


class RateLimitMiddleware:
    """ASGI middleware: HTTP requests beyond the per-IP budget get 429 + Retry-After.

    `rate` <= 0 disables limiting. WebSocket connections pass through (they have their own
    per-IP connection limit)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rate: float,
        burst: int,
        trusted_proxies: Iterable[str] = (),
        exempt_paths: Iterable[str] = ("/health",),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self._limiter = RateLimiter(rate, burst, clock=clock) if rate > 0 else None
        self._address = ClientAddress(trusted_proxies)
        self._exempt = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._limiter is None
            or scope["type"] != "http"
            or scope.get("path") in self._exempt
            or scope.get("method") == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        wait = self._limiter.check(self._address(scope))
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        body = orjson.dumps({"error": "Too many requests"})
        retry_after = str(max(1, math.ceil(wait))) if math.isfinite(wait) else "60"
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", retry_after.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
