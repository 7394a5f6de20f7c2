"""A tiny fault-injecting JSON-RPC proxy in front of Hardhat: it refuses eth_getLogs answers
with more than `max_results` logs the way hosted providers do, rate limits the way they do
(HTTP 429 with Retry-After, or a JSON-RPC -32005 "rate limit exceeded" error), adds latency,
can go down (refusing connections) and come back on the same port, and can lie like a lagging
node: `serve_view` shows a head below the node's and, in place of the node's blocks, blocks of
another (older) fork recorded earlier; `finalized` names the block "finalized" answers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
import orjson
from aiohttp import web

from devstack.ports import free_port


@dataclass(frozen=True, slots=True)
class View:
    """A chain ending at `head`, with `blocks` (eth_getBlockByNumber answers by number) in place
    of the node's; above the head nothing exists."""

    head: int
    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)


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
        self.view: View | None = None  # see `serve_view`
        self.finalized: int | None = None  # the block "finalized" answers; None: the node's
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._down = False

    @property
    def delay(self) -> float:
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        """Latency added to every request; lowering it releases requests already waiting."""
        self._delay = seconds
        self._lifted.set()
        self._lifted = asyncio.Event()

    def serve_view(self, head: int, blocks: dict[int, dict[str, Any]] | None = None) -> None:
        """Answer as a node whose chain ends at `head`, holding `blocks` (recorded answers of
        eth_getBlockByNumber) in place of the node's; `serve_live()` ends it."""
        self.view = View(head, blocks or {})

    def serve_live(self) -> None:
        self.view = None

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
        self._down = False

    async def down(self) -> None:
        """Stop listening: new connections are refused until `up()`, and a request on a
        connection kept alive from before is dropped unanswered."""
        self._down = True
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
        if self._down and request.transport is not None:
            request.transport.close()
            return web.Response(status=503)
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
        calls = body if isinstance(body, list) else [body]
        local = {id(call): found for call in calls if (found := self._local(call)) is not None}
        remote = [self._rewrite(call) for call in calls if id(call) not in local]
        answers: dict[Any, dict[str, Any]] = {}
        if remote:
            assert self._session is not None
            async with self._session.post(self.upstream, json=remote) as response:
                answers = {item["id"]: item for item in orjson.loads(await response.read())}
        merged = [
            local[id(call)] if id(call) in local else self._filter(call, answers[call["id"]])
            for call in calls
        ]
        reply = merged if isinstance(body, list) else merged[0]
        return web.Response(body=orjson.dumps(reply), content_type="application/json")

    def _local(self, call: dict[str, Any]) -> dict[str, Any] | None:
        """The answer of a call the `view` decides without the node, else None."""
        view, method, params = self.view, call.get("method"), call.get("params") or []

        def result(value: Any) -> dict[str, Any]:
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": value}

        if view is None:
            return None
        if method == "eth_blockNumber":
            return result(hex(view.head))
        if method == "eth_getBlockByNumber" and params[0] not in ("finalized", "safe"):
            number = view.head if params[0] in ("latest", "pending") else int(params[0], 16)
            if number > view.head:
                return result(None)
            return result(view.blocks[number]) if number in view.blocks else None
        if method == "eth_getLogs" and int(params[0]["fromBlock"], 16) > view.head:
            return result([])
        return None

    def _rewrite(self, call: dict[str, Any]) -> dict[str, Any]:
        """The call as sent to the node: "latest", "finalized" and eth_getLogs ranges bounded
        by the `view` and `finalized`."""
        method, params = call.get("method"), call.get("params") or []
        final = self.finalized
        if method == "eth_getBlockByNumber" and params[0] == "finalized" and final is not None:
            return {**call, "params": [hex(final), *params[1:]]}
        if method == "eth_getBlockByNumber" and params[0] == "latest" and self.view:
            return {**call, "params": [hex(self.view.head), *params[1:]]}
        if method == "eth_getLogs" and self.view is not None:
            query = {
                **params[0],
                "toBlock": hex(min(int(params[0]["toBlock"], 16), self.view.head)),
            }
            return {**call, "params": [query]}
        return call

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
