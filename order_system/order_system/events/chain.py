"""What the processor reads from the node, over raw JSON-RPC: logs, headers, orders, decimals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from order_system.events.decoding import (
    DECIMALS_SELECTOR,
    TOPICS,
    ZERO_ADDRESS,
    OrderSnapshot,
    decode_get_order,
    decode_uint,
    encode_get_order,
)
from order_system.events.rpc import JsonRpc, RpcError

ETH_DECIMALS = 18


@dataclass(frozen=True, slots=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class BlockMissing(LookupError):
    """A block (or the state at a block) the node no longer has: usually a reorg under way."""


def _header(raw: dict[str, Any]) -> Header:
    return Header(
        number=int(raw["number"], 16),
        hash=raw["hash"].lower(),
        parent_hash=raw["parentHash"].lower(),
        timestamp=int(raw["timestamp"], 16),
    )


class Chain:
    def __init__(self, rpc: JsonRpc, trading_address: str) -> None:
        self.rpc = rpc
        self.trading = trading_address.lower()
        self._topics = [list(TOPICS.values())]

    async def head(self) -> int:
        return int(await self.rpc.call("eth_blockNumber", []), 16)

    async def chain_id(self) -> int:
        return int(await self.rpc.call("eth_chainId", []), 16)

    async def logs(self, start: int, end: int) -> list[dict[str, Any]]:
        """Every order event log of the Trading contract in [start, end], one call."""
        result: list[dict[str, Any]] = await self.rpc.call(
            "eth_getLogs",
            [
                {
                    "address": self.trading,
                    "fromBlock": hex(start),
                    "toBlock": hex(end),
                    "topics": self._topics,
                }
            ],
        )
        return result

    async def headers(self, numbers: Iterable[int]) -> dict[int, Header]:
        """Headers by number; a number past the head is simply absent."""
        wanted = sorted(set(numbers))
        answers = await self.rpc.batch(
            [("eth_getBlockByNumber", [hex(number), False]) for number in wanted]
        )
        found: dict[int, Header] = {}
        for answer in answers:
            if isinstance(answer, RpcError):
                raise answer
            if answer is not None:
                header = _header(answer)
                found[header.number] = header
        return found

    async def header(self, number: int) -> Header | None:
        return (await self.headers([number])).get(number)

    async def orders(self, wanted: list[tuple[int, str]]) -> list[OrderSnapshot]:
        """`getOrder(id)` for each (order id, block hash), read at that block."""
        answers = await self.rpc.batch(
            [
                (
                    "eth_call",
                    [
                        {"to": self.trading, "data": encode_get_order(order_id)},
                        {"blockHash": block_hash},
                    ],
                )
                for order_id, block_hash in wanted
            ]
        )
        snapshots = []
        for (order_id, block_hash), answer in zip(wanted, answers, strict=True):
            if isinstance(answer, RpcError):
                raise BlockMissing(f"getOrder({order_id}) at {block_hash}: {answer}")
            snapshots.append(decode_get_order(answer))
        return snapshots

    async def decimals(self, tokens: Iterable[str]) -> dict[str, int]:
        """Each token's `decimals()` (ETH, address zero, is 18)."""
        found = {ZERO_ADDRESS: ETH_DECIMALS}
        ask = sorted({token for token in tokens if token != ZERO_ADDRESS})
        answers = await self.rpc.batch(
            [("eth_call", [{"to": token, "data": DECIMALS_SELECTOR}, "latest"]) for token in ask]
        )
        for token, answer in zip(ask, answers, strict=True):
            if isinstance(answer, RpcError):
                raise answer
            found[token] = decode_uint(answer)
        return found
