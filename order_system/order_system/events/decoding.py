"""Raw Trading logs and `getOrder` answers decoded by slicing 32-byte words.

Only the four order events are recognised; anything else the contract emits is skipped. A real
`OrderCreated` log as the node returns it::

    {"address": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
     "topics": ["0xdcb4282d27c4f0f72b550268698af955cf8c6bd36efec7b9a243e500452f86e2",
                "0x0000000000000000000000000000000000000000000000000000000000000001",
                "0x0000000000000000000000003c44cdddb6a900fa2b585dd299e03d12fa4293bc"],
     "data": "0x" + tokenIn word + tokenOut word + amountIn word,
     "blockNumber": "0x5", "blockHash": "0x…", "transactionHash": "0x…", "logIndex": "0x1"}
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

from eth_utils.crypto import keccak


class EventKind(StrEnum):
    CREATED = "CREATED"
    EXECUTED = "EXECUTED"
    CANCELLED = "CANCELLED"
    MODIFIED = "MODIFIED"


SIGNATURES = {
    EventKind.CREATED: "OrderCreated(uint256,address,address,address,uint256)",
    EventKind.EXECUTED: "OrderExecuted(uint256,address,uint256)",
    EventKind.CANCELLED: "OrderCancelled(uint256,address)",
    EventKind.MODIFIED: "OrderModified(uint256,uint256,uint256)",
}


def _selector(signature: str, length: int = 32) -> str:
    return "0x" + keccak(text=signature)[:length].hex()


TOPICS: dict[EventKind, str] = {kind: _selector(sig) for kind, sig in SIGNATURES.items()}
KIND_BY_TOPIC: dict[str, EventKind] = {topic: kind for kind, topic in TOPICS.items()}
GET_ORDER_SELECTOR = _selector("getOrder(uint256)", 4)
DECIMALS_SELECTOR = _selector("decimals()", 4)

ORDER_TYPES = ("LIMIT", "STOP", "MARKET", "CONDITIONAL")
ZERO_ADDRESS = "0x" + "00" * 20


class OrderEvent(NamedTuple):
    """One decoded order event; amounts are raw integer token units. (The hot path's records
    are named tuples: immutable, and built several times faster than frozen dataclasses.)"""

    kind: EventKind
    order_id: int
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    account: str | None = None  # user (CREATED, CANCELLED) or executor (EXECUTED)
    token_in: str | None = None
    token_out: str | None = None
    amount: int | None = None  # amountIn (CREATED) or amountOut (EXECUTED)
    new_target_price: int | None = None
    new_min_amount_out: int | None = None

    @property
    def position(self) -> tuple[int, int]:
        return self.block_number, self.log_index


class OrderSnapshot(NamedTuple):
    """The `getOrder` tuple; amounts and prices raw."""

    id: int
    user: str
    token_in: str
    token_out: str
    amount_in: int
    target_price: int
    min_amount_out: int
    order_type: int
    is_long: bool
    executed: bool
    created_at: int
    self_executable: bool


class DecodeError(ValueError):
    """A log or call answer that does not have the expected layout."""


def _word(data: str, index: int) -> str:
    start = 2 + 64 * index
    word = data[start : start + 64]
    if len(word) != 64:
        raise DecodeError(f"data too short for word {index}: {data[:80]}")
    return word


def _address(word: str) -> str:
    return "0x" + word[24:].lower()


def decode_log(log: dict[str, Any]) -> OrderEvent | None:
    """Decode one order event log; None for other events of the contract."""
    topics: list[str] = log["topics"]
    if not topics:
        return None
    kind = KIND_BY_TOPIC.get(topics[0].lower())
    if kind is None:
        return None
    data: str = log["data"]
    try:
        # The fields every event has, in OrderEvent's order.
        common = (
            kind,
            int(topics[1], 16),
            int(log["blockNumber"], 16),
            log["blockHash"].lower(),
            log["transactionHash"].lower(),
            int(log["logIndex"], 16),
        )
        if kind is EventKind.CREATED:
            return OrderEvent(
                *common,
                account=_address(topics[2][2:]),
                token_in=_address(_word(data, 0)),
                token_out=_address(_word(data, 1)),
                amount=int(_word(data, 2), 16),
            )
        if kind is EventKind.EXECUTED:
            return OrderEvent(
                *common, account=_address(topics[2][2:]), amount=int(_word(data, 0), 16)
            )
        if kind is EventKind.CANCELLED:
            return OrderEvent(*common, account=_address(topics[2][2:]))
        return OrderEvent(
            *common,
            new_target_price=int(_word(data, 0), 16),
            new_min_amount_out=int(_word(data, 1), 16),
        )
    except (IndexError, KeyError) as error:
        raise DecodeError(f"malformed {kind} log: {error}") from None


def decode_logs(logs: list[dict[str, Any]]) -> list[OrderEvent]:
    """Decoded order events in chain order (block number, then log index)."""
    events = [event for log in logs if (event := decode_log(log)) is not None]
    events.sort(key=lambda event: event.position)
    return events


def encode_get_order(order_id: int) -> str:
    return GET_ORDER_SELECTOR + format(order_id, "064x")


_ORDER_WORDS = 12
ORDER_BYTES = 32 * _ORDER_WORDS


def decode_get_order(result: str) -> OrderSnapshot:
    """Decode `getOrder`'s answer (hex): twelve static words, in the tuple's order."""
    if len(result) < 2 + 64 * _ORDER_WORDS:
        _word(result, _ORDER_WORDS - 1)  # raises, naming the word that is missing
    return decode_order_bytes(bytes.fromhex(result[2 : 2 + 64 * _ORDER_WORDS]))


def decode_order_bytes(data: bytes) -> OrderSnapshot:
    """`decode_get_order` of the answer's bytes (at least ORDER_BYTES of them)."""
    if len(data) < ORDER_BYTES:
        raise DecodeError(f"getOrder answer too short: {len(data)} bytes")
    big = int.from_bytes
    order_type = big(data[224:256])
    if order_type >= len(ORDER_TYPES):
        raise DecodeError(f"unknown order type {order_type}")
    # An address is the low 20 bytes of its word.
    return OrderSnapshot(
        big(data[0:32]),
        "0x" + data[44:64].hex(),
        "0x" + data[76:96].hex(),
        "0x" + data[108:128].hex(),
        big(data[128:160]),
        big(data[160:192]),
        big(data[192:224]),
        order_type,
        big(data[256:288]) != 0,
        big(data[288:320]) != 0,
        big(data[320:352]),
        big(data[352:384]) != 0,
    )


def decode_uint(result: str) -> int:
    return int(_word(result, 0), 16)
