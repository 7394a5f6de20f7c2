"""A scripted order flow on Hardhat, indexed, then read through the API: every field is
compared with the chain (getOrder, receipts and block timestamps read with web3)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
from contract_driver import ContractDriver, scripted_flow
from eth_utils.address import to_checksum_address
from indexing import index

from order_system.rpc import JsonRpc

ORDER_TYPES = {0: "LIMIT", 1: "STOP"}


def _plain(raw: int, decimals: int) -> str:
    text = format(Decimal(raw).scaleb(-decimals), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _iso(flow: ContractDriver, block_number: int) -> str:
    timestamp = flow.w3.eth.get_block(block_number)["timestamp"]
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _order_events(flow: ContractDriver, order_id: int) -> list[tuple[str, Any]]:
    """(event type, log) of the order from the chain, in chain order."""
    found = []
    for name, kind in (
        ("OrderCreated", "CREATED"),
        ("OrderExecuted", "EXECUTED"),
        ("OrderCancelled", "CANCELLED"),
        ("OrderModified", "MODIFIED"),
    ):
        event = getattr(flow.trading.events, name)()
        for log in event.get_logs(from_block=0, argument_filters={"orderId": order_id}):
            found.append((kind, log))
    found.sort(key=lambda item: (item[1]["blockNumber"], item[1]["logIndex"]))
    return found


async def test_scripted_flow_appears_in_the_api_with_every_field_equal_to_the_chain(
    flow: ContractDriver, clean_db: asyncpg.Pool, rpc: JsonRpc, api: httpx.AsyncClient
) -> None:
    script = scripted_flow(flow)
    await index(clean_db, rpc, flow.deployment)

    for order_id in range(1, flow.order_count() + 1):
        chain = flow.get_order(order_id)
        history = _order_events(flow, order_id)
        kinds = [kind for kind, _ in history]
        created_log = history[0][1]
        status = (
            "CANCELLED" if "CANCELLED" in kinds else "EXECUTED" if chain.executed else "PENDING"
        )
        expected: dict[str, Any] = {
            "id": order_id,
            "user_address": to_checksum_address(chain.user),
            "token_in": to_checksum_address(chain.token_in),
            "token_out": to_checksum_address(chain.token_out),
            "amount_in": _plain(chain.amount_in, flow.decimals_of(chain.token_in)),
            "target_price": _plain(chain.target, 18),
            "min_amount_out": _plain(chain.min_out, flow.decimals_of(chain.token_out)),
            "order_type": ORDER_TYPES[chain.order_type],
            "is_long": chain.is_long,
            "status": status,
            "created_at": datetime.fromtimestamp(chain.created_at, UTC).isoformat(),
            "executed_at": None,
            "self_executable": chain.self_executable,
            "updated_at": _iso(flow, history[-1][1]["blockNumber"]),
            "tx_hash": "0x" + created_log["transactionHash"].hex().removeprefix("0x"),
            "block_number": created_log["blockNumber"],
            "executor_address": None,
            "amount_out": None,
            "execution_tx_hash": None,
        }
        if status == "EXECUTED":
            executed_log = history[kinds.index("EXECUTED")][1]
            expected |= {
                "executed_at": _iso(flow, executed_log["blockNumber"]),
                "executor_address": executed_log["args"]["executor"],
                "amount_out": _plain(
                    executed_log["args"]["amountOut"], flow.decimals_of(chain.token_out)
                ),
                "execution_tx_hash": "0x"
                + executed_log["transactionHash"].hex().removeprefix("0x"),
            }
        answer = (await api.get(f"/orders/{order_id}")).json()
        assert answer == {"order": expected, "status": "success"}, order_id

        events = (await api.get(f"/orders/{order_id}/events")).json()
        assert [e["event_type"] for e in events["events"]] == kinds
        assert events["total"] == len(kinds) and events["order_id"] == order_id
        for got, (_, log) in zip(events["events"], history, strict=True):
            assert got["block_number"] == log["blockNumber"]
            assert got["timestamp"] == _iso(flow, log["blockNumber"])
            assert got["event_data"]["orderId"] == order_id

    keeper = (await api.get(f"/orders/{script['executed_by_keeper']}")).json()["order"]
    assert keeper["executor_address"] == flow.router.address
    self_run = (await api.get(f"/orders/{script['executed_by_self']}")).json()["order"]
    assert self_run["executor_address"] == flow.users[0]
    assert self_run["target_price"] == "61000" and self_run["min_amount_out"] == "700"
    cancelled = (await api.get(f"/orders/{script['cancelled']}/events")).json()["events"]
    assert cancelled[-1]["old_status"] == "PENDING"
    assert cancelled[-1]["new_status"] == "CANCELLED"
    assert cancelled[0]["event_data"] == {
        "orderId": script["cancelled"],
        "user": flow.users[1],
        "tokenIn": flow.tokens["USDC"].address,
        "tokenOut": flow.tokens["LINK"].address,
        "amountIn": "123.456789",
    }
    pending = (await api.get("/orders/pending")).json()
    assert [o["id"] for o in pending["orders"]] == sorted(script["pending"], reverse=True)
    stats = (await api.get("/statistics")).json()["statistics"]
    assert stats == {
        "PENDING": {"total": 2, "last_24h": 2},
        "EXECUTED": {"total": 2, "last_24h": 2},
        "CANCELLED": {"total": 1, "last_24h": 1},
    }
