"""Orders of tokens whose decimals cannot be known (no code, `decimals()` reverting, or
answering more than 77 or more than a smallint) are indexed with raw amounts and their
decimals marked unknown; they never stop the processor."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import httpx
from contract_driver import LIMIT, ContractDriver, Token
from indexing import clear, dump, index
from web3 import Web3

from order_system.artifacts import load_artifact
from order_system.rpc import JsonRpc

NO_CODE = Web3.to_checksum_address("0x" + "de" * 20)
ODD_TOKENS = {  # name: (what decimals() answers, whether it reverts instead)
    "REVERTS": (0, True),
    "D78": (78, False),
    "D40000": (40_000, False),
    "DMAX": (2**256 - 1, False),
}


def _deploy_odd_token(flow: ContractDriver, answer: int, reverts: bool) -> str:
    artifact = load_artifact("OddToken")
    factory = flow.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(answer, reverts).transact({"from": flow.keeper})
    address = flow.w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    return str(address)


async def test_orders_of_tokens_without_usable_decimals_are_indexed_with_raw_amounts(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, api: httpx.AsyncClient
) -> None:
    alice = flow.users[0]
    # Amounts of these tokens are given in raw units (decimals 0 in the test's own scaling).
    flow.tokens["NOCODE"] = Token(NO_CODE, 0)
    for name, (answer, reverts) in ODD_TOKENS.items():
        flow.tokens[name] = Token(_deploy_odd_token(flow, answer, reverts), 0)
        flow.fund(alice, name, Decimal(10**30))
    no_code_out, _ = flow.create(
        alice, "ETH", "NOCODE", Decimal("0.5"), Decimal("2"), Decimal("12345"), LIMIT, True
    )
    flow.modify(alice, no_code_out, Decimal("3"), 999)
    odd_in = {
        name: flow.create(
            alice, name, "USDC", Decimal(777), Decimal("1"), Decimal("1.5"), LIMIT, False
        )[0]
        for name in ODD_TOKENS
    }
    flow.cancel(alice, odd_in["D78"])
    plain, _ = flow.create(
        alice, "ETH", "USDC", Decimal("0.1"), Decimal("1"), Decimal("2.5"), LIMIT, True
    )

    indexer = await index(clean_db, rpc, flow.deployment)
    assert indexer.processed == flow.w3.eth.block_number
    assert await clean_db.fetchval("SELECT count(*) FROM orders") == 2 + len(ODD_TOKENS)

    order = (await api.get(f"/orders/{no_code_out}")).json()["order"]
    assert (order["amount_in"], order["token_in_decimals"]) == ("0.5", 18)
    assert (order["min_amount_out"], order["token_out_decimals"]) == ("999", None)
    for name, order_id in odd_in.items():
        order = (await api.get(f"/orders/{order_id}")).json()["order"]
        assert (order["amount_in"], order["token_in_decimals"]) == ("777", None), name
        assert (order["min_amount_out"], order["token_out_decimals"]) == ("1.5", 6), name
    assert (await api.get(f"/orders/{odd_in['D78']}")).json()["order"]["status"] == "CANCELLED"
    events = (await api.get(f"/orders/{odd_in['DMAX']}/events")).json()["events"]
    assert events[0]["event_data"]["amountIn"] == "777"
    # An ordinary order keeps the exact shape existing clients read: no decimals fields.
    listed = (await api.get("/orders/all", params={"limit": 1})).json()["orders"]
    assert [o["id"] for o in listed] == [plain]
    assert "token_in_decimals" not in listed[0] and "token_out_decimals" not in listed[0]

    unknown = await clean_db.fetch(
        "SELECT token_address FROM token_decimals WHERE decimals IS NULL"
    )
    odd = {flow.tokens[name].address.lower() for name in [*ODD_TOKENS, "NOCODE"]}
    assert {row["token_address"] for row in unknown} == odd

    # Unknown stays unknown: a fresh index of the same chain reads the same rows.
    indexed = await dump(clean_db)
    await clear(clean_db)
    await index(clean_db, rpc, flow.deployment)
    assert indexed == await dump(clean_db)
