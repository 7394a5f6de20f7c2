"""Log and getOrder decoding with real samples recorded from the project's Trading contract on
Hardhat, checked against eth_abi (the reference decoder)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode

from order_system.events.decoding import (
    TOPICS,
    DecodeError,
    EventKind,
    decode_get_order,
    decode_log,
    decode_logs,
)

TRADING = "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512"
ALICE = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
ROUTER = "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0"
USDC = "0xdc64a140aa3e981100a9beca4e685f962f0cf6c9"
WBTC = "0x0165878a594ca255338adfa4d48449f69242eb8f"


def _log(topics: list[str], data: str, block: int, log_index: int = 0) -> dict[str, Any]:
    return {
        "address": TRADING,
        "topics": topics,
        "data": data,
        "blockNumber": hex(block),
        "blockHash": "0x" + f"{block:064x}",
        "transactionHash": "0x" + f"{block + 1000:064x}",
        "logIndex": hex(log_index),
        "removed": False,
    }


CREATED = _log(
    [
        "0xdcb4282d27c4f0f72b550268698af955cf8c6bd36efec7b9a243e500452f86e2",
        "0x0000000000000000000000000000000000000000000000000000000000000002",
        "0x00000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8",
    ],
    "0x0000000000000000000000000165878a594ca255338adfa4d48449f69242eb8f"
    "000000000000000000000000dc64a140aa3e981100a9beca4e685f962f0cf6c9"
    "000000000000000000000000000000000000000000000000000000000012d687",
    0x17,
    3,
)
EXECUTED = _log(
    [
        "0x9b32d7714729bdcd899b9c5460b1ec55a813e10e7a51271f146949e4e19f7b99",
        "0x0000000000000000000000000000000000000000000000000000000000000001",
        "0x0000000000000000000000009fe46736679d2d9a65f0992f2272de9f3c7fa6e0",
    ],
    "0x0000000000000000000000000000000000000000000000000000000008f0d180",
    0x1B,
)
MODIFIED = _log(
    [
        "0x5f26042ebf1dad031a5d68482c9ed2dd6e4ead6ef1d61d3fe2bde495965228ce",
        "0x0000000000000000000000000000000000000000000000000000000000000002",
    ],
    "0x000000000000000000000000000000000000000000000cead10e68260c200000"
    "0000000000000000000000000000000000000000000000000000000029b92700",
    0x1C,
)
CANCELLED = _log(
    [
        "0xc0362da6f2ff36b382b34aec0814f6b3cdf89f5ef282a1d1f114d0c0b036d596",
        "0x0000000000000000000000000000000000000000000000000000000000000003",
        "0x0000000000000000000000003c44cdddb6a900fa2b585dd299e03d12fa4293bc",
    ],
    "0x",
    0x1F,
)
ROUTER_SET = _log(
    [
        "0xc6b438e6a8a59579ce6a4406cbd203b740e0d47b458aae6596339bcd40c40d15",
        "0x0000000000000000000000009fe46736679d2d9a65f0992f2272de9f3c7fa6e0",
    ],
    "0x",
    4,
)
GET_ORDER_2 = (
    "0x0000000000000000000000000000000000000000000000000000000000000002"
    "00000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8"
    "0000000000000000000000000165878a594ca255338adfa4d48449f69242eb8f"
    "000000000000000000000000dc64a140aa3e981100a9beca4e685f962f0cf6c9"
    "000000000000000000000000000000000000000000000000000000000012d687"
    "000000000000000000000000000000000000000000000cead10e68260c200000"
    "0000000000000000000000000000000000000000000000000000000029b92700"
    "0000000000000000000000000000000000000000000000000000000000000001"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000006b01a5cf"
    "0000000000000000000000000000000000000000000000000000000000000001"
)


def test_topics_are_the_keccak_of_the_four_exact_signatures() -> None:
    assert TOPICS[EventKind.CREATED] == CREATED["topics"][0]
    assert TOPICS[EventKind.EXECUTED] == EXECUTED["topics"][0]
    assert TOPICS[EventKind.MODIFIED] == MODIFIED["topics"][0]
    assert TOPICS[EventKind.CANCELLED] == CANCELLED["topics"][0]


def test_created_log_decodes_like_eth_abi() -> None:
    event = decode_log(CREATED)
    assert event is not None
    token_in, token_out, amount = abi_decode(
        ["address", "address", "uint256"], bytes.fromhex(CREATED["data"][2:])
    )
    assert (event.kind, event.order_id, event.account) == (EventKind.CREATED, 2, ALICE)
    assert (event.token_in, event.token_out, event.amount) == (
        token_in.lower(),
        token_out.lower(),
        amount,
    )
    assert (event.token_in, event.amount) == (WBTC, 1_234_567)
    assert (event.block_number, event.log_index) == (0x17, 3)


def test_executed_modified_and_cancelled_logs_decode() -> None:
    executed, modified, cancelled = (decode_log(x) for x in (EXECUTED, MODIFIED, CANCELLED))
    assert executed is not None and modified is not None and cancelled is not None
    assert (executed.order_id, executed.account, executed.amount) == (1, ROUTER, 150_000_000)
    assert (modified.new_target_price, modified.new_min_amount_out) == (61000 * 10**18, 700 * 10**6)
    assert (cancelled.order_id, cancelled.account) == (
        3,
        "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",
    )


def test_other_events_of_the_contract_are_skipped_and_order_is_chain_order() -> None:
    events = decode_logs([CANCELLED, ROUTER_SET, EXECUTED, CREATED])
    assert [e.kind for e in events] == [EventKind.CREATED, EventKind.EXECUTED, EventKind.CANCELLED]


def test_truncated_data_is_a_decode_error() -> None:
    broken = dict(CREATED, data=CREATED["data"][:100])
    with pytest.raises(DecodeError):
        decode_log(broken)


def test_get_order_tuple_decodes_like_eth_abi() -> None:
    snapshot = decode_get_order(GET_ORDER_2)
    reference = abi_decode(
        ["(uint256,address,address,address,uint256,uint256,uint256,uint8,bool,bool,uint256,bool)"],
        bytes.fromhex(GET_ORDER_2[2:]),
    )[0]
    assert snapshot.id == reference[0] == 2
    assert (snapshot.user, snapshot.token_in, snapshot.token_out) == tuple(
        a.lower() for a in reference[1:4]
    )
    assert (snapshot.amount_in, snapshot.target_price, snapshot.min_amount_out) == reference[4:7]
    assert (snapshot.order_type, snapshot.is_long, snapshot.executed) == reference[7:10]
    assert (snapshot.created_at, snapshot.self_executable) == reference[10:12]
