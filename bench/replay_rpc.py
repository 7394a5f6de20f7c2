"""The node's answers recorded once and replayed from memory, for the indexer benchmark.

`RecordingRpc` is a JsonRpc that keeps every answer the node gave (logs, block headers, order
reads, decimals) and every request it sent; `ReplayRpc` answers the same requests from memory,
so a catch-up through it costs the processor and PostgreSQL only (no node, no HTTP). Each
answer is kept as the JSON the node sent and parsed again on every replay, as a real catch-up
parses it."""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any

import orjson

from order_system.rpc import JsonRpc


def _key(method: str, params: Any) -> bytes:
    return orjson.dumps([method, params])


@dataclass(eq=False)
class RecordingRpc(JsonRpc):
    """Forwards to the node; `answers` maps each request to the JSON of its answer, `requests`
    holds each body sent (a call or a batch), in order."""

    answers: dict[bytes, bytes] = field(default_factory=dict, init=False)
    requests: list[Any] = field(default_factory=list, init=False)

    async def _post(self, body: Any) -> Any:
        answer = await super()._post(body)
        self.requests.append(body)
        calls, items = (body, answer) if isinstance(body, list) else ([body], [answer])
        if isinstance(items, list):
            by_id = {item.get("id"): item for item in items if isinstance(item, dict)}
            for call in calls:
                item = by_id.get(call["id"])
                if item is not None and item.get("error") is None:
                    self.answers[_key(call["method"], call["params"])] = orjson.dumps(item)
        return answer


@dataclass(eq=False)
class ReplayRpc(JsonRpc):
    """Answers from `answers` (a RecordingRpc's); `eth_getLogs` of any range from `logs` (every
    log of the indexed contract, in chain order), since concurrent fetches that end in another
    order size later ranges differently. A request never recorded is an error."""

    answers: dict[bytes, bytes] = field(default_factory=dict)
    logs: list[dict[str, Any]] = field(default_factory=list)
    _blocks: list[int] = field(default_factory=list, init=False, repr=False)
    _raw_logs: list[bytes] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._blocks = [int(log["blockNumber"], 16) for log in self.logs]
        self._raw_logs = [orjson.dumps(log) for log in self.logs]

    def _get_logs(self, params: list[dict[str, Any]]) -> bytes:
        start, end = (int(params[0][key], 16) for key in ("fromBlock", "toBlock"))
        first, last = bisect_left(self._blocks, start), bisect_right(self._blocks, end)
        return b'{"result":[' + b",".join(self._raw_logs[first:last]) + b"]}"

    async def _post(self, body: Any) -> Any:
        await asyncio.sleep(0)  # a request still yields to the event loop, as I/O would
        calls = body if isinstance(body, list) else [body]
        found = []
        for call in calls:
            raw: bytes | None
            if call["method"] == "eth_getLogs":
                raw = self._get_logs(call["params"])
            else:
                raw = self.answers.get(_key(call["method"], call["params"]))
            if raw is None:
                raise LookupError(f"not recorded: {call['method']} {call['params']}")
            found.append(dict(orjson.loads(raw), id=call["id"]))
        return found if isinstance(body, list) else found[0]


def order_reads(requests: list[Any]) -> list[Any]:
    """The `eth_call`s of these recorded requests (the order reads; `decimals()` calls too,
    a handful per chain), batched as they were sent, nothing else."""
    reads = []
    for body in requests:
        calls = body if isinstance(body, list) else [body]
        kept = [call for call in calls if call["method"] == "eth_call"]
        if kept:
            reads.append(kept if isinstance(body, list) else kept[0])
    return reads


async def node_alone(url: str, requests: list[Any], concurrency: int) -> float:
    """Seconds the node takes to answer these requests (as recorded: each a call or a batch),
    at most `concurrency` in flight, with nothing done with the answers."""
    async with JsonRpc(url, timeout=300) as rpc:
        queue = iter(requests)

        async def worker() -> None:
            for body in queue:
                await rpc._post(body)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began
