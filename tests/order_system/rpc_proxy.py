"""A tiny fault-injecting JSON-RPC proxy in front of Hardhat: it refuses eth_getLogs answers
with more than `max_results` logs the way hosted providers do, rate limits the way they do
(HTTP 429 with Retry-After, or a JSON-RPC -32005 "rate limit exceeded" error), adds latency,
and can go down (refusing connections) and come back on the same port."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Self

import aiohttp
import orjson
from aiohttp import web

from devstack.ports import free_port


class RpcProxy:
    def __init__(
        self,
        upstream: str,
        *,
        max_results: int | None = None,
        suggest_range: bool = True,
        delay: float = 0.0,
    ) -> None:
        self.upstream = upstream
        self.max_results = max_results
        self.suggest_range = suggest_range
        self._delay = delay
        self._lifted = asyncio.Event()
        self.port = free_port()
        self.refused = 0
        self.get_logs_ranges: list[tuple[int, int]] = []
        # The next this-many requests get HTTP 429 with `Retry-After: retry_after`; the next
        # `limit_get_logs` eth_getLogs calls get a -32005 "rate limit exceeded" error.
        self.limit_requests = 0
        self.limit_get_logs = 0
        self.retry_after = 1
        self.limited: list[float] = []  # when each rate-limited answer was sent (monotonic)
        self.requests: list[float] = []  # when each request arrived (monotonic)
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    @property
    def delay(self) -> float:
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        """Latency added to every request; lowering it releases requests already waiting."""
        self._delay = seconds
        self._lifted.set()
        self._lifted = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Self:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await self.up()
        return self

    async def up(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await self._site.start()

    async def down(self) -> None:
        """Stop listening: new connections are refused until `up()`."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.requests.append(time.monotonic())
        if self.limit_requests > 0:
            self.limit_requests -= 1
            self.limited.append(time.monotonic())
            error = {"code": 429, "message": "Too Many Requests: exceeded the request rate"}
            return web.Response(
                status=429,
                headers={"Retry-After": str(self.retry_after)},
                body=orjson.dumps({"jsonrpc": "2.0", "id": None, "error": error}),
                content_type="application/json",
            )
        if self.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lifted.wait(), self.delay)
        assert self._session is not None
        async with self._session.post(self.upstream, json=body) as response:
            answer = orjson.loads(await response.read())
        if isinstance(body, list):
            by_id = {item["id"]: item for item in body}
            answer = [self._filter(by_id[item["id"]], item) for item in answer]
        else:
            answer = self._filter(body, answer)
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    def _filter(self, call: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if call.get("method") != "eth_getLogs" or "result" not in answer:
            return answer
        if self.limit_get_logs > 0:
            self.limit_get_logs -= 1
            self.limited.append(time.monotonic())
            error = {"code": -32005, "message": "rate limit exceeded"}
            return {"jsonrpc": "2.0", "id": answer.get("id"), "error": error}
        query = call["params"][0]
        start, end = int(query["fromBlock"], 16), int(query["toBlock"], 16)
        self.get_logs_ranges.append((start, end))
        logs = answer["result"]
        if self.max_results is None or len(logs) <= self.max_results:
            return answer
        self.refused += 1
        message = f"query returned more than {self.max_results} results"
        if self.suggest_range:
            # Like hosted providers: a range ending before the block of the first excess log.
            last = max(start, int(logs[self.max_results]["blockNumber"], 16) - 1)
            message += f". Try with this block range [{hex(start)}, {hex(last)}]."
        return {
            "jsonrpc": "2.0",
            "id": answer.get("id"),
            "error": {"code": -32005, "message": message},
        }
