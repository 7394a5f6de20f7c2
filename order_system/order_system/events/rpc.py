"""Raw JSON-RPC over aiohttp: single calls and batches, with errors kept per call.

Exceptions::

    RpcUnavailable     the node did not answer (connection refused, timeout, HTTP error)
    RpcError           the node answered with a JSON-RPC error object
      TooManyResults   an eth_getLogs range the provider refuses as too large
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import orjson

_SUGGESTED_RANGE = re.compile(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]")
_TOO_MANY = (
    "more than",
    "too many",
    "response size",
    "limit exceeded",
    "block range",
    "range is too large",
)


class RpcUnavailable(ConnectionError):
    """The node did not answer."""


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


class JsonRpc:
    """One HTTP endpoint; `reconnect()` drops the connection pool (the watchdog uses it)."""

    def __init__(self, url: str, *, timeout: float = 15.0, batch_size: int = 500) -> None:
        self.url = url
        self.timeout = timeout
        self.batch_size = batch_size
        self._session: aiohttp.ClientSession | None = None
        self._ids = 0

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
                if response.status >= 500 or (response.status >= 400 and not payload):
                    raise RpcUnavailable(f"{self.url} answered HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise RpcUnavailable(f"{self.url}: {error!r}") from None
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise RpcUnavailable(f"{self.url} answered invalid JSON: {payload[:200]!r}") from None

    async def call(self, method: str, params: list[Any]) -> Any:
        self._ids += 1
        answer = await self._post(
            {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params}
        )
        if not isinstance(answer, dict):
            raise RpcUnavailable(f"{method}: unexpected answer {str(answer)[:200]}")
        if answer.get("error") is not None:
            raise _error(method, answer["error"])
        return answer.get("result")

    async def batch(self, calls: list[Call]) -> list[Any]:
        """Results in call order; a call that failed yields its RpcError in its place."""
        chunks = [calls[i : i + self.batch_size] for i in range(0, len(calls), self.batch_size)]
        parts = await asyncio.gather(*(self._batch(chunk) for chunk in chunks))
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
                raise _error(calls[0][0], answer["error"])
            raise RpcUnavailable(f"batch: unexpected answer {str(answer)[:200]}")
        by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
        results: list[Any] = []
        for i, (method, _) in enumerate(calls):
            item = by_id.get(first + i)
            if item is None:
                raise RpcUnavailable(f"batch: no answer for {method} (id {first + i})")
            error = item.get("error")
            results.append(_error(method, error) if error is not None else item.get("result"))
        return results

    async def __aenter__(self) -> JsonRpc:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def reconnect(self) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
