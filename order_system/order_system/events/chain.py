"""What the processor reads from the node, over raw JSON-RPC: logs, headers, orders, decimals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from order_system.events.decoding import (
    DECIMALS_SELECTOR,
    TOPICS,
    ZERO_ADDRESS,
    DecodeError,
    OrderSnapshot,
    decode_get_order,
    decode_order_bytes,
    decode_uint,
    encode_get_order,
)
from order_system.events.guard import ReorgGuard
from order_system.events.order_reader import (
    READER_ADDRESS,
    ReaderAnswerError,
    encode_get_orders,
    split_get_orders,
    state_override,
)
from order_system.rpc import Call, Rpc, RpcError

log = logging.getLogger(__name__)

ETH_DECIMALS = 18
# The most a uint256 amount can be scaled by and still be exact in a Decimal of 78 digits; the
# token_decimals column holds 0..77 (NULL: unknown).
MAX_DECIMALS = 77
# Orders read per OrderReader call. On Hardhat 2.29 (noisy 2-core measurements) 10 to 70 read
# at about the same rate and 5 was slower, once its allocator keeps freed memory
# (devstack/hardhat.py); before that, 70 was 1.7x slower than 10. Gas, about 30,000 per order,
# is nowhere near any node's eth_call cap.
MAX_ORDERS_PER_READ = 10
# OrderReader answers decoded between pauses for the event loop (about a millisecond).
DECODE_PAUSE_EVERY = 10


@dataclass(frozen=True, slots=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class BlockMissing(LookupError):
    """A block (or the state at a block) the node no longer has: usually a reorg under way."""


def _is_revert(error: RpcError) -> bool:
    """The call itself failed (geth and most providers: code 3 or "execution reverted";
    Hardhat: -32603 "... reverted ..."), as opposed to the node failing to run it."""
    return error.code == 3 or "revert" in error.message.lower()


def _decimals(token: str, answer: Any) -> int | None:
    if isinstance(answer, RpcError):
        if not _is_revert(answer):
            raise answer
        log.warning("token %s: decimals() reverted (%s); its amounts stay raw", token, answer)
        return None
    try:
        value = decode_uint(answer)
    except DecodeError:
        log.warning("token %s: no decimals() answer (%r); its amounts stay raw", token, answer)
        return None
    if value > MAX_DECIMALS:
        log.warning("token %s: decimals() is %d; its amounts stay raw", token, value)
        return None
    return value


def _header(raw: dict[str, Any]) -> Header:
    return Header(
        number=int(raw["number"], 16),
        hash=raw["hash"].lower(),
        parent_hash=raw["parentHash"].lower(),
        timestamp=int(raw["timestamp"], 16),
    )


class Chain:
    def __init__(
        self,
        rpc: Rpc,
        trading_address: str,
        *,
        reader: bool = True,
        guard: ReorgGuard | None = None,
    ) -> None:
        self.rpc = rpc
        self.trading = trading_address.lower()
        self._topics = [list(TOPICS.values())]
        # False once the node failed to run the OrderReader helper (see `orders`).
        self.reader_enabled = reader
        self.guard = ReorgGuard() if guard is None else guard

    async def head(self) -> int:
        return int(await self.rpc.call("eth_blockNumber", []), 16)

    async def finalized(self, head: int) -> int | None:
        """The node's finalized block, None when it reports none: the tag refused or unknown,
        or a "finalized" block at the head (Hardhat answers its latest block; anvil, 64 below
        it), which says nothing about finality."""
        try:
            answer = await self.rpc.call("eth_getBlockByNumber", ["finalized", False])
        except RpcError:
            return None
        if not isinstance(answer, dict) or not isinstance(answer.get("number"), str):
            return None
        number = int(answer["number"], 16)
        return number if number < head else None

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
        """`getOrder(id)` for each (order id, block hash), read at that block.

        Orders created in the same block are read with one call running the OrderReader
        helper through a state override; a node that does not run it (the override rejected
        or ignored) is read with one plain call per order from then on."""
        groups: dict[str, list[int]] = {}
        for index, (_, block_hash) in enumerate(wanted):
            groups.setdefault(block_hash, []).append(index)
        chunks = [
            (block_hash, indexes[i : i + MAX_ORDERS_PER_READ])
            for block_hash, indexes in groups.items()
            for i in range(0, len(indexes), MAX_ORDERS_PER_READ)
        ]
        plain = [c for c in chunks if not self.reader_enabled or len(c[1]) == 1]
        joint = [c for c in chunks if self.reader_enabled and len(c[1]) > 1]
        answers = await self.rpc.batch(
            [self._get_orders_call([wanted[i][0] for i in indexes], h) for h, indexes in joint]
            + [self._get_order_call(wanted[i][0], h) for h, indexes in plain for i in indexes]
        )
        snapshots: dict[int, OrderSnapshot] = {}
        refused: list[tuple[int, str]] = []  # read by the reader, to read again one by one
        reason = ""
        for count, ((block_hash, indexes), answer) in enumerate(
            zip(joint, answers, strict=False), 1
        ):
            if count % DECODE_PAUSE_EVERY == 0:
                await asyncio.sleep(0)  # lets a batch being written send its next statement
            try:
                if isinstance(answer, RpcError):
                    raise answer
                raw = split_get_orders(answer, len(indexes))
                read = [decode_order_bytes(item) for item in raw]
                if [s.id for s in read] != [wanted[i][0] for i in indexes]:
                    raise ReaderAnswerError("the answers are not the orders asked for")
            except (RpcError, ReaderAnswerError, DecodeError) as error:
                reason = str(error)
                refused += [(i, block_hash) for i in indexes]
                continue
            snapshots.update(zip(indexes, read, strict=True))
        singles = [(i, h) for h, indexes in plain for i in indexes]
        for (index, block_hash), answer in zip(singles, answers[len(joint) :], strict=True):
            snapshots[index] = self._snapshot(wanted[index][0], block_hash, answer)
        if refused:
            again = await self.rpc.batch(
                [self._get_order_call(wanted[i][0], h) for i, h in refused]
            )
            for (index, block_hash), answer in zip(refused, again, strict=True):
                snapshots[index] = self._snapshot(wanted[index][0], block_hash, answer)
            # Every order read one by one where the reader failed: the node does not run it.
            self.reader_enabled = False
            log.warning(
                "reading orders one call each: the node does not run OrderReader (%s)", reason
            )
        return [snapshots[index] for index in range(len(wanted))]

    def _get_order_call(self, order_id: int, block_hash: str) -> Call:
        call = {"to": self.trading, "data": encode_get_order(order_id)}
        return "eth_call", [call, {"blockHash": block_hash}]

    def _get_orders_call(self, order_ids: list[int], block_hash: str) -> Call:
        call = {"to": READER_ADDRESS, "data": encode_get_orders(self.trading, order_ids)}
        return "eth_call", [call, {"blockHash": block_hash}, state_override()]

    @staticmethod
    def _snapshot(order_id: int, block_hash: str, answer: Any) -> OrderSnapshot:
        if isinstance(answer, RpcError):
            raise BlockMissing(f"getOrder({order_id}) at {block_hash}: {answer}")
        return decode_get_order(answer)

    async def decimals(self, tokens: Iterable[str]) -> dict[str, int | None]:
        """Each token's `decimals()` (ETH, address zero, is 18); None where the token gives no
        usable answer: no code (an empty answer), a revert, or more than MAX_DECIMALS."""
        found: dict[str, int | None] = {ZERO_ADDRESS: ETH_DECIMALS}
        ask = sorted({token for token in tokens if token != ZERO_ADDRESS})
        answers = await self.rpc.batch(
            [("eth_call", [{"to": token, "data": DECIMALS_SELECTOR}, "latest"]) for token in ask]
        )
        for token, answer in zip(ask, answers, strict=True):
            found[token] = _decimals(token, answer)
        return found
