"""Reading `getOrder` for the orders of one block in one eth_call (OrderReader through a state
override) on the real Hardhat node: the same snapshots as one call per order, the fallback to
plain calls when a node rejects or ignores the override, and batch answers that come back out
of order or with one failed element."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from contract_driver import ContractDriver, bulk_orders
from rpc_proxy import RpcProxy

from order_system.artifacts import ensure_compiled, load_artifact
from order_system.events.chain import MAX_ORDERS_PER_READ, BlockMissing, Chain
from order_system.events.decoding import EventKind, decode_logs
from order_system.events.order_reader import RUNTIME_CODE
from order_system.rpc import JsonRpc, RpcError


class RewritingProxy(RpcProxy):
    """Forwards to the node, counting eth_calls with a state override, and optionally:
    `overrides="reject"` answers those with an error (as nodes without the parameter do),
    `overrides="ignore"` drops the parameter; `shuffle` reverses every batch answer and
    `fail_method` replaces the answer of the first call of that method with an error."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.overrides = "pass"
        self.shuffle = False
        self.fail_method: str | None = None
        self.override_calls = 0
        self.plain_calls = 0

    async def _handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        calls: list[dict[str, Any]] = body if isinstance(body, list) else [body]
        answers: dict[Any, dict[str, Any]] = {}
        forward = []
        for call in calls:
            overridden = call["method"] == "eth_call" and len(call["params"]) > 2
            if call["method"] == "eth_call":
                self.override_calls += overridden
                self.plain_calls += not overridden
            if overridden and self.overrides == "reject":
                message = "too many arguments, want at most 2"
                answers[call["id"]] = _error(call["id"], -32602, message)
                continue
            if overridden and self.overrides == "ignore":
                call = dict(call, params=call["params"][:2])
            forward.append(call)
        if forward:
            assert self._session is not None
            async with self._session.post(self.upstream, json=forward) as response:
                for item in orjson.loads(await response.read()):
                    answers[item["id"]] = item
        ordered = [answers[call["id"]] for call in calls]
        failing = [c for c in calls if c["method"] == self.fail_method]
        if failing:
            index = calls.index(failing[0])
            ordered[index] = _error(failing[0]["id"], -32000, "injected failure")
            self.fail_method = None
        if self.shuffle:
            ordered.reverse()
        payload = ordered if isinstance(body, list) else ordered[0]
        return web.Response(body=orjson.dumps(payload), content_type="application/json")


def _error(call_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "error": {"code": code, "message": message}}


@pytest.fixture
async def proxy(hardhat_url: str) -> AsyncIterator[RewritingProxy]:
    async with RewritingProxy(hardhat_url) as server:
        yield server


async def _created(chain: Chain, flow: ContractDriver) -> list[tuple[int, str]]:
    """(order id, block hash) of every OrderCreated since the deployment."""
    events = decode_logs(await chain.logs(flow.deployment.block_number, await chain.head()))
    return [(e.order_id, e.block_hash) for e in events if e.kind is EventKind.CREATED]


def test_the_runtime_code_is_what_compile_mjs_builds_from_the_source() -> None:
    ensure_compiled()
    compiled = load_artifact("OrderReader").deployed_bytecode
    assert compiled == RUNTIME_CODE, (
        "order_system/contracts/OrderReader.sol changed: set RUNTIME_CODE in "
        f"order_system/events/order_reader.py to\n{compiled}"
    )


async def test_one_call_per_block_reads_what_one_call_per_order_reads(
    flow: ContractDriver, rpc: JsonRpc, proxy: RewritingProxy
) -> None:
    # 25 + 25 + 3 creates in three blocks, then cancels and modifies in later blocks: read at
    # their creation block, modified orders still show what they were created with.
    bulk_orders(flow, 53, per_block=25)
    async with JsonRpc(proxy.url) as through_proxy:
        chain = Chain(through_proxy, flow.deployment.trading, reader=True)
        wanted = await _created(chain, flow)
        read = await chain.orders(wanted)
    plain = Chain(rpc, flow.deployment.trading, reader=False)
    assert read == await plain.orders(wanted)
    assert chain.reader_enabled
    assert [s.id for s in read] == [order_id for order_id, _ in wanted]
    per_block = [25, 25, 3]
    assert proxy.override_calls == sum(-(-n // MAX_ORDERS_PER_READ) for n in per_block)
    assert proxy.plain_calls == 0
    modified = [s for s in read if s.target_price != flow.get_order(s.id)[5]]
    assert modified, "some orders were modified after their creation block"


@pytest.mark.parametrize("overrides", ["reject", "ignore"])
async def test_a_node_that_does_not_run_the_reader_is_read_with_one_call_per_order(
    flow: ContractDriver, rpc: JsonRpc, proxy: RewritingProxy, overrides: str
) -> None:
    bulk_orders(flow, 30, per_block=15)
    proxy.overrides = overrides
    async with JsonRpc(proxy.url) as through_proxy:
        chain = Chain(through_proxy, flow.deployment.trading, reader=True)
        wanted = await _created(chain, flow)
        read = await chain.orders(wanted)
        assert not chain.reader_enabled
        tried = proxy.override_calls
        assert tried > 0 and proxy.plain_calls == len(wanted)
        assert await chain.orders(wanted) == read  # no second try of the reader
        assert proxy.override_calls == tried
    assert read == await Chain(rpc, flow.deployment.trading, reader=False).orders(wanted)


async def test_orders_of_a_block_the_node_does_not_have_raise_block_missing(
    flow: ContractDriver, rpc: JsonRpc
) -> None:
    bulk_orders(flow, 4, per_block=4)
    chain = Chain(rpc, flow.deployment.trading, reader=True)
    wanted = await _created(chain, flow)
    orphan = "0x" + "ab" * 32
    with pytest.raises(BlockMissing):
        await chain.orders([(order_id, orphan) for order_id, _ in wanted])
    assert chain.reader_enabled  # the plain calls failed too: not the reader's fault


async def test_batch_answers_out_of_order_or_with_a_failed_element_map_to_their_calls(
    flow: ContractDriver, rpc: JsonRpc, proxy: RewritingProxy
) -> None:
    bulk_orders(flow, 12, per_block=6)
    calls = [("eth_getBlockByNumber", [hex(n), False]) for n in range(1, 9)]
    calls.append(("eth_chainId", []))
    expected = await rpc.batch(calls)
    proxy.shuffle = True
    async with JsonRpc(proxy.url) as through_proxy:
        assert await through_proxy.batch(calls) == expected
        proxy.fail_method = "eth_chainId"
        answers = await through_proxy.batch(calls)
        assert answers[:-1] == expected[:-1]
        assert isinstance(answers[-1], RpcError) and answers[-1].message == "injected failure"
        chain = Chain(through_proxy, flow.deployment.trading, reader=True)
        wanted = await _created(chain, flow)
        direct = await Chain(rpc, flow.deployment.trading, reader=False).orders(wanted)
        assert await chain.orders(wanted) == direct
        assert chain.reader_enabled
        # One reader call failing (its plain calls succeed) turns the reader off: still right.
        proxy.fail_method = "eth_call"
        assert await chain.orders(wanted) == direct
        assert not chain.reader_enabled
