"""Who may use `/admin`: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time.

A request without a bearer token is a 401 (`WWW-Authenticate: Bearer`), a wrong token a 403.
Wrong tokens are counted per client address: beyond `ADMIN_AUTH_FAILURES_PER_MINUTE` that
address gets 429 whatever it sends, until the budget refills; changes are rate limited per
address as well. The actor an audit row names is `admin:` and the first 8 hex digits of the
token's SHA-256, so a rotated token shows in the audit log without the log holding a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from api_server.settings import ApiSettings
from linkora_core.http import error
from linkora_core.ratelimit import ClientAddress, RateLimiter

log = logging.getLogger(__name__)

DISABLED = "admin API disabled: set ADMIN_TOKEN"


@dataclass(frozen=True, slots=True)
class Admin:
    """The authenticated caller of one request."""

    actor: str
    address: str


AdminHandler = Callable[[Request, Admin], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:8]


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme in any case)."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _retry_after(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)) if math.isfinite(wait) else 60)}


class AdminGuard:
    """The token check and the per-address limits of one app (its lifespan makes it)."""

    def __init__(
        self,
        token: str | None,
        client_address: ClientAddress,
        *,
        failures_per_minute: int = 10,
        writes_per_minute: int = 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Digests are compared, so the comparison's time tells nothing of the token's length.
        self._digest = None if token is None else hashlib.sha256(token.encode()).digest()
        self.actor = None if token is None else f"admin:{fingerprint(token)}"
        self._address = client_address
        self._failures = RateLimiter(failures_per_minute / 60, failures_per_minute, clock=clock)
        self._writes = RateLimiter(writes_per_minute / 60, writes_per_minute, clock=clock)

    @classmethod
    def from_settings(cls, settings: ApiSettings, client_address: ClientAddress) -> AdminGuard:
        token = settings.admin_token
        return cls(
            None if token is None else token.get_secret_value(),
            client_address,
            failures_per_minute=settings.admin_auth_failures_per_minute,
            writes_per_minute=settings.admin_writes_per_minute,
        )

    def admit(self, request: Request, *, write: bool) -> Admin | Response:
        """The caller, or the response refusing it."""
        if self._digest is None or self.actor is None:
            return error(DISABLED, 503)
        address = self._address(request.scope)
        wait = self._failures.wait(address)
        if wait > 0:
            return error("Too many failed admin authentications", 429, _retry_after(wait))
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            return error("Bearer token required", 401, {"WWW-Authenticate": "Bearer"})
        given = hashlib.sha256(token.encode()).digest()
        if not hmac.compare_digest(given, self._digest):
            self._failures.check(address)
            log.warning("wrong admin token from %s for %s", address, request.url.path)
            return error("Wrong admin token", 403)
        if write:
            wait = self._writes.check(address)
            if wait > 0:
                return error("Too many admin changes", 429, _retry_after(wait))
        return Admin(self.actor, address)


def guarded(handlers: Mapping[str, AdminHandler], *, writes: frozenset[str]) -> Endpoint:
    """One route's endpoint: admits the caller, then runs the handler of the request's
    method (HEAD as GET); the methods in `writes` spend the write budget."""

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        verdict = request.app.state.admin_guard.admit(request, write=method in writes)
        if isinstance(verdict, Response):
            return verdict
        return await handlers[method](request, verdict)

    return endpoint
