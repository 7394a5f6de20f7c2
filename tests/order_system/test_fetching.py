"""Adaptive ranges and provider errors, without a node: the sizer, the error parser, and the
log fetcher splitting a refused range (a scripted Chain stands in for the node)."""

from __future__ import annotations

from typing import Any

import pytest
from test_decoding import CREATED

from order_system.events.chain import Chain
from order_system.events.fetching import RangeSizer, fetch_logs
from order_system.rpc import JsonRpc, RpcError, TooManyResults, _error


def test_too_many_results_messages_are_recognised_with_the_suggested_range() -> None:
    infura = _error(
        "eth_getLogs",
        {
            "code": -32005,
            "message": "query returned more than 10000 results. Try with this block range "
            "[0x10, 0x2A].",
        },
    )
    assert isinstance(infura, TooManyResults) and infura.suggested_end == 0x2A
    alchemy = _error(
        "eth_getLogs",
        {
            "code": -32602,
            "message": "Log response size exceeded. You can make eth_getLogs requests with up to "
            "a 2K block range and no limit on the response size, or you can request "
            "any block range with a cap of 10K logs in the response. Based on your "
            "parameters, this block range should work: [0x1, 0x7ff]",
        },
    )
    assert isinstance(alchemy, TooManyResults) and alchemy.suggested_end == 0x7FF
    plain = _error(
        "eth_getLogs", {"code": -32005, "message": "query returned more than 10000 results"}
    )
    assert isinstance(plain, TooManyResults) and plain.suggested_end is None
    other = _error("eth_call", {"code": 3, "message": "execution reverted"})
    assert type(other) is RpcError


def test_the_sizer_shrinks_then_grows_after_successes_up_to_the_maximum() -> None:
    sizer = RangeSizer(initial=1000, maximum=4000, grow_after=2, target_logs=500)
    sizer.shrink(100)
    assert sizer.size == 100
    for _ in range(4):
        sizer.succeeded(100, 10)
    assert sizer.size == 400
    sizer.succeeded(400, 2000)  # too many logs for one batch: aim at target_logs
    assert sizer.size == 100
    for _ in range(20):
        sizer.succeeded(sizer.size, 0)
    assert sizer.size == 4000


class _Refusing(Chain):
    """Refuses any range wider than `limit` blocks, suggesting a range or not."""

    def __init__(self, limit: int, suggest: bool) -> None:
        super().__init__(JsonRpc("http://unused"), "0x" + "11" * 20)
        self.limit, self.suggest = limit, suggest
        self.calls: list[tuple[int, int]] = []

    async def logs(self, start: int, end: int) -> list[dict[str, Any]]:
        self.calls.append((start, end))
        if end - start + 1 > self.limit:
            message = "query returned more than 10000 results"
            if self.suggest:
                message += f". Try with this block range [{hex(start)}, {hex(start + 9)}]."
            raise TooManyResults("eth_getLogs", {"code": -32005, "message": message})
        return [dict(CREATED, blockNumber=hex(n), logIndex="0x0") for n in range(start, end + 1)]


@pytest.mark.parametrize("suggest", [True, False])
async def test_a_refused_range_is_split_until_every_block_is_fetched_once(suggest: bool) -> None:
    chain = _Refusing(limit=10, suggest=suggest)
    sizer = RangeSizer(initial=100, maximum=100)
    events = await fetch_logs(chain, 1, 100, sizer)
    assert [e.block_number for e in events] == list(range(1, 101))
    assert sizer.size <= 50
    fetched = sorted(c for c in chain.calls if c[1] - c[0] + 1 <= 10)
    assert sum(end - start + 1 for start, end in fetched) == 100
    if suggest:
        assert sizer.size == 10
