"""Driving the deployed contracts from tests: orders created, modified, cancelled and executed
through web3 (slow but independent of the code under test), and the chain's own view of them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import RPCEndpoint, TxReceipt

from order_system.deploy import ETH, Deployment, contract_at

LIMIT, STOP = 0, 1


def units(amount: Decimal, decimals: int) -> int:
    return int(amount.scaleb(decimals))


class ChainOrder(NamedTuple):
    """Trading.getOrder's tuple, as the chain holds it (raw units)."""

    id: int
    user: str
    token_in: str
    token_out: str
    amount_in: int
    target: int
    min_out: int
    order_type: int
    is_long: bool
    executed: bool
    created_at: int
    self_executable: bool


@dataclass(frozen=True)
class Token:
    address: str
    decimals: int


class ContractDriver:
    """The deployed contracts driven through web3 as the users and the keeper would."""

    def __init__(self, w3: Web3, deployment: Deployment) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.trading: Contract = contract_at(w3, "Trading", deployment.trading)
        self.router: Contract = contract_at(w3, "Router", deployment.router)
        accounts: list[str] = list(w3.eth.accounts)
        self.keeper = accounts[0]
        self.users = accounts[1:4]
        self.tokens = {"ETH": Token(ETH, 18)} | {
            symbol: Token(t.address, t.decimals) for symbol, t in deployment.tokens.items()
        }

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        answer = self.w3.provider.make_request(RPCEndpoint(method), params or [])
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def mine(self, blocks: int = 1) -> None:
        self.rpc("hardhat_mine", [hex(blocks)])

    def _send(self, call: Any, sender: str, value: int = 0, **extra: Any) -> TxReceipt:
        tx = call.transact({"from": sender, "value": value, **extra})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt["status"] == 1, f"transaction reverted: {receipt}"
        return receipt

    def fund(self, user: str, symbol: str, amount: Decimal) -> None:
        token = self.tokens[symbol]
        erc20 = contract_at(self.w3, "TestToken", token.address)
        self._send(erc20.functions.mint(user, units(amount, token.decimals)), self.keeper)
        for spender in (self.trading.address, self.router.address):
            self._send(erc20.functions.approve(spender, 2**256 - 1), user)

    def create(
        self,
        user: str,
        token_in: str,
        token_out: str,
        amount: Decimal,
        target: Decimal,
        min_out: Decimal,
        order_type: int,
        is_long: bool,
        self_executable: bool = False,
        via_router: bool = True,
        **extra: Any,
    ) -> tuple[int, TxReceipt]:
        """`extra` transaction fields: fixing nonce, gas and fees makes a re-sent transaction
        byte-identical (the same hash)."""
        tin, tout = self.tokens[token_in], self.tokens[token_out]
        raw = units(amount, tin.decimals)
        contract = self.router if via_router else self.trading
        receipt = self._send(
            contract.functions.createOrder(
                tin.address,
                tout.address,
                raw,
                units(target, 18),
                units(min_out, tout.decimals),
                order_type,
                is_long,
                self_executable,
            ),
            user,
            value=raw if tin.address == ETH else 0,
            **extra,
        )
        (event,) = self.trading.events.OrderCreated().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["orderId"]), receipt

    def modify(self, user: str, order_id: int, target: Decimal, min_out_raw: int) -> TxReceipt:
        return self._send(
            self.router.functions.modifyOrder(order_id, units(target, 18), min_out_raw), user
        )

    def cancel(self, user: str, order_id: int, via_router: bool = False) -> TxReceipt:
        contract = self.router if via_router else self.trading
        return self._send(contract.functions.cancelOrder(order_id), user)

    def execute_by_keeper(self, order_id: int) -> TxReceipt:
        return self._send(self.router.functions.executeOrder(order_id), self.keeper)

    def execute_self(self, user: str, order_id: int) -> TxReceipt:
        return self._send(self.trading.functions.executeOrder(order_id), user)

    def get_order(self, order_id: int) -> ChainOrder:
        return ChainOrder(*self.trading.functions.getOrder(order_id).call())

    def order_count(self) -> int:
        return int(self.trading.functions.orderCount().call())

    def decimals_of(self, address: str) -> int:
        for token in self.tokens.values():
            if token.address.lower() == address.lower():
                return token.decimals
        raise KeyError(address)


def scripted_flow(flow: ContractDriver) -> dict[str, Any]:
    """Limit and stop orders with ETH and 6/8/18-decimal tokens; modify, cancel, keeper and self
    execution. Returns what happened, for the comparison with the index."""
    alice, bob = flow.users[0], flow.users[1]
    flow.fund(alice, "WBTC", Decimal("1"))
    flow.fund(bob, "USDC", Decimal("10000"))
    flow.fund(bob, "LINK", Decimal("100"))
    keeper_exec, _ = flow.create(
        alice, "ETH", "USDC", Decimal("0.05"), Decimal("1.05"), Decimal("140"), LIMIT, True
    )
    self_exec, _ = flow.create(
        alice, "WBTC", "USDC", Decimal("0.01234567"), Decimal("59000"), Decimal("0"), STOP, False,
        self_executable=True,
    )  # fmt: skip
    cancelled, _ = flow.create(
        bob, "USDC", "LINK", Decimal("123.456789"), Decimal("14"), Decimal("8.2"), LIMIT, True,
        via_router=False,
    )  # fmt: skip
    pending, _ = flow.create(
        bob, "LINK", "ETH", Decimal("2.5"), Decimal("3100.123456789"), Decimal("0.01"), STOP, True
    )
    pending_eth, _ = flow.create(
        alice, "ETH", "WBTC", Decimal("0.1"), Decimal("0.8944299"), Decimal("0.000001"), LIMIT,
        False, via_router=False,
    )  # fmt: skip
    flow.execute_by_keeper(keeper_exec)
    flow.modify(alice, self_exec, Decimal("61000"), 700_000_000)  # 700 USDC (6 decimals)
    flow.execute_self(alice, self_exec)
    flow.modify(bob, pending, Decimal("3200.5"), 1234)  # 1234 wei of ETH
    flow.cancel(bob, cancelled)
    flow.mine(3)
    return {
        "executed_by_keeper": keeper_exec,
        "executed_by_self": self_exec,
        "cancelled": cancelled,
        "pending": [pending, pending_eth],
    }


def bulk_orders(flow: ContractDriver, count: int, per_block: int = 100) -> None:
    """`count` ETH-in orders sent as raw JSON-RPC batches with automine off, then mined
    `per_block` at a time; every fifth order is later cancelled and every seventh modified."""
    users = flow.users
    token_out = flow.tokens["USDC"].address
    start_id = flow.order_count() + 1
    flow.rpc("evm_setAutomine", [False])
    try:
        sent = 0
        while sent < count:
            batch = []
            for i in range(sent, min(count, sent + per_block)):
                amount = 10**15 + i
                data = flow.trading.encode_abi(
                    "createOrder",
                    args=[ETH, token_out, amount, 3 * 10**17 + i, i, i % 2, i % 3 == 0, False],
                )
                tx = {
                    "from": users[i % len(users)],
                    "to": flow.trading.address,
                    "data": data,
                    "value": hex(amount),
                    "gas": hex(400_000),
                }
                batch.append(
                    {"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction", "params": [tx]}
                )
            _send_and_mine(flow, batch)
            sent += len(batch)
        later = []
        for offset in range(count):
            order_id = start_id + offset
            # Ids follow the order the node ran a block's transactions in, which among
            # senders need not be the order they were sent in: ask who owns each.
            user = flow.get_order(order_id).user
            if offset % 5 == 4:
                later.append(("cancelOrder", [order_id], user))
            elif offset % 7 == 6:
                later.append(("modifyOrder", [order_id, 4 * 10**17 + offset, offset + 1], user))
        for first in range(0, len(later), per_block):
            _send_and_mine(
                flow,
                [
                    {
                        "jsonrpc": "2.0",
                        "id": n,
                        "method": "eth_sendTransaction",
                        "params": [
                            {
                                "from": user,
                                "to": flow.trading.address,
                                "gas": hex(300_000),
                                "data": flow.trading.encode_abi(fn, args=args),
                            }
                        ],
                    }
                    for n, (fn, args, user) in enumerate(later[first : first + per_block])
                ],
            )
    finally:
        flow.rpc("evm_setAutomine", [True])
    assert flow.order_count() == start_id + count - 1


def _send_and_mine(flow: ContractDriver, batch: list[dict[str, Any]]) -> None:
    """Send a batch of transactions, then mine until every one of them is in a block (a
    transaction the node keeps pending, say for its fee, waits for the next block) and check
    that none reverted: a silently failed setup would only show later as a puzzling assertion."""
    import httpx

    uri = str(flow.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
    answers = httpx.post(uri, json=batch, timeout=120).json()
    errors = [a["error"] for a in answers if "error" in a]
    assert not errors, errors[:3]
    pending = [a["result"] for a in answers]
    for _ in range(5):
        flow.rpc("evm_mine")
        receipts = [flow.rpc("eth_getTransactionReceipt", [tx]) for tx in pending]
        reverted = [r for r in receipts if r is not None and int(r["status"], 16) != 1]
        assert not reverted, f"{len(reverted)} transactions reverted: {reverted[:2]}"
        pending = [tx for tx, r in zip(pending, receipts, strict=True) if r is None]
        if not pending:
            return
    raise AssertionError(f"{len(pending)} transactions still pending after 5 blocks")
