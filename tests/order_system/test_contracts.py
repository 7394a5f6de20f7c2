"""The order contracts on a real Hardhat node: raw event topics and data, and getOrder tuples,
as the indexer will see them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from contract_driver import ChainOrder
from eth_abi.abi import decode
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.types import BlockIdentifier

from order_system.deploy import ETH, Deployment, contract_at

pytestmark = pytest.mark.usefixtures("chain_snapshot")

LIMIT, STOP_LOSS, MARKET, CONDITIONAL = 0, 1, 2, 3
E18 = 10**18
CREATED = Web3.keccak(text="OrderCreated(uint256,address,address,address,uint256)")
EXECUTED = Web3.keccak(text="OrderExecuted(uint256,address,uint256)")
CANCELLED = Web3.keccak(text="OrderCancelled(uint256,address)")
MODIFIED = Web3.keccak(text="OrderModified(uint256,uint256,uint256)")


@dataclass
class Chain:
    w3: Web3
    trading: Contract
    router: Contract
    oracle: Contract
    tokens: dict[str, Contract]
    deployer: ChecksumAddress
    keeper: ChecksumAddress
    alice: ChecksumAddress
    bob: ChecksumAddress

    def address(self, symbol: str) -> ChecksumAddress:
        return ETH if symbol == "ETH" else self.tokens[symbol].address

    def send(self, call: Any, sender: str, value: int = 0) -> Any:
        tx_hash = call.transact({"from": sender, "value": value})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        return receipt

    def set_price(self, symbol: str, usd: int) -> None:
        self.send(self.oracle.functions.setPrice(self.address(symbol), usd * E18), self.deployer)

    def create(
        self,
        user: str,
        token_in: str,
        amount_in: int,
        token_out: str,
        target_usd: int,
        *,
        min_out: int = 0,
        order_type: int = LIMIT,
        is_long: bool = False,
        self_executable: bool = False,
        via: Contract | None = None,
    ) -> tuple[int, Any]:
        """Mints and approves what the order needs, creates it, returns (order id, receipt)."""
        entry = via or self.router
        if token_in != "ETH":
            token = self.tokens[token_in]
            self.send(token.functions.mint(user, amount_in), self.deployer)
            self.send(token.functions.approve(entry.address, amount_in), user)
        call = entry.functions.createOrder(
            self.address(token_in),
            self.address(token_out),
            amount_in,
            target_usd * E18,
            min_out,
            order_type,
            is_long,
            self_executable,
        )
        receipt = self.send(call, user, amount_in if token_in == "ETH" else 0)
        (created,) = trading_logs(receipt, self.trading.address, CREATED)
        return int.from_bytes(created["topics"][1], "big"), receipt

    def get_order(self, order_id: int, block: BlockIdentifier = "latest") -> ChainOrder:
        return ChainOrder(*self.trading.functions.getOrder(order_id).call(block_identifier=block))

    def balance(self, symbol: str, account: str) -> int:
        if symbol == "ETH":
            return self.w3.eth.get_balance(Web3.to_checksum_address(account))
        return int(self.tokens[symbol].functions.balanceOf(account).call())


@pytest.fixture
def chain(w3: Web3, deployment: Deployment) -> Chain:
    deployer, keeper, alice, bob = list(w3.eth.accounts)[:4]
    chain = Chain(
        w3=w3,
        trading=contract_at(w3, "Trading", deployment.trading),
        router=contract_at(w3, "Router", deployment.router),
        oracle=contract_at(w3, "Oracle", deployment.oracle),
        tokens={s: contract_at(w3, "TestToken", t.address) for s, t in deployment.tokens.items()},
        deployer=deployer,
        keeper=keeper,
        alice=alice,
        bob=bob,
    )
    chain.send(chain.router.functions.setKeeper(keeper, True), deployer)
    return chain


def trading_logs(receipt: Any, trading: str, topic0: bytes) -> list[Any]:
    return [
        log for log in receipt["logs"] if log["address"] == trading and log["topics"][0] == topic0
    ]


def word(value: int | str) -> bytes:
    """An indexed uint256 or address as its 32-byte topic."""
    if isinstance(value, str):
        return bytes(12) + bytes.fromhex(value[2:])
    return value.to_bytes(32, "big")


@contextmanager
def reverts(error_signature: str) -> Iterator[None]:
    """Expects a revert with this custom error (Hardhat nests the revert data in a dict)."""
    with pytest.raises(ContractLogicError) as info:
        yield
    data = info.value.data
    revert_data = data.get("data") if isinstance(data, dict) else data
    selector = Web3.keccak(text=error_signature)[:4].hex()
    assert str(revert_data).removeprefix("0x").startswith(selector), info.value.message


def test_deployment_wires_contracts_prices_and_liquidity(
    chain: Chain, deployment: Deployment
) -> None:
    assert deployment.chain_id == 31337
    assert chain.trading.functions.router().call() == deployment.router
    assert chain.trading.functions.oracle().call() == deployment.oracle
    assert chain.router.functions.trading().call() == deployment.trading
    assert chain.w3.eth.get_code(deployment.trading, deployment.block_number - 1) == b""
    assert chain.w3.eth.get_code(deployment.trading, deployment.block_number) != b""
    assert {s: t.decimals for s, t in deployment.tokens.items()} == {
        "USDC": 6,
        "WBTC": 8,
        "LINK": 18,
    }
    for symbol, token in deployment.tokens.items():
        assert chain.tokens[symbol].functions.decimals().call() == token.decimals
        assert chain.tokens[symbol].functions.symbol().call() == symbol
        assert chain.trading.functions.availableLiquidity(token.address).call() > 0
    assert chain.oracle.functions.getPrice(ETH).call() == 3000 * E18
    assert chain.trading.functions.availableLiquidity(ETH).call() == 1000 * E18


def test_eth_limit_order_through_router_emits_created_from_trading(chain: Chain) -> None:
    amount = E18 // 20
    order_id, receipt = chain.create(chain.alice, "ETH", amount, "USDC", 3500, min_out=170 * 10**6)

    assert order_id == 1
    assert [log["address"] for log in receipt["logs"]] == [chain.trading.address]
    (log,) = receipt["logs"]
    assert log["topics"] == [CREATED, word(1), word(chain.alice)]
    assert decode(["address", "address", "uint256"], log["data"]) == (
        ETH.lower(),
        chain.address("USDC").lower(),
        amount,
    )
    created_at = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert chain.get_order(1) == (
        1,
        chain.alice,
        ETH,
        chain.address("USDC"),
        amount,
        3500 * E18,
        170 * 10**6,
        LIMIT,
        False,
        False,
        created_at,
        False,
    )
    assert chain.trading.functions.escrowed(ETH).call() == amount


@pytest.mark.parametrize(
    ("symbol", "amount"), [("USDC", 2500 * 10**6), ("WBTC", 10**7), ("LINK", 75 * E18)]
)
def test_token_orders_escrow_raw_units_for_each_decimals(
    chain: Chain, symbol: str, amount: int
) -> None:
    trading_before = chain.balance(symbol, chain.trading.address)
    order_id, receipt = chain.create(
        chain.bob,
        symbol,
        amount,
        "ETH",
        2900,
        order_type=STOP_LOSS,
        is_long=True,
        self_executable=True,
    )

    (log,) = trading_logs(receipt, chain.trading.address, CREATED)
    assert log["topics"] == [CREATED, word(order_id), word(chain.bob)]
    assert decode(["address", "address", "uint256"], log["data"]) == (
        chain.address(symbol).lower(),
        ETH.lower(),
        amount,
    )
    order = chain.get_order(order_id)
    assert (order.id, order.user, order.token_in, order.token_out) == (
        order_id, chain.bob, chain.address(symbol), ETH,
    )  # fmt: skip
    assert (order.amount_in, order.target, order.min_out) == (amount, 2900 * E18, 0)
    assert (order.order_type, order.is_long, order.executed, order.self_executable) == (
        STOP_LOSS, True, False, True,
    )  # fmt: skip
    assert order.created_at == chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert chain.balance(symbol, chain.trading.address) == trading_before + amount
    assert chain.balance(symbol, chain.bob) == 0
    assert chain.balance(symbol, chain.router.address) == 0


def test_order_ids_count_up_across_entry_points(chain: Chain) -> None:
    first, _ = chain.create(chain.alice, "ETH", E18, "USDC", 3500)
    second, _ = chain.create(
        chain.bob, "USDC", 10**6, "WBTC", 1, order_type=MARKET, via=chain.trading
    )
    third, _ = chain.create(chain.alice, "LINK", E18, "ETH", 20)
    assert (first, second, third) == (1, 2, 3)
    assert chain.trading.functions.orderCount().call() == 3
    assert chain.get_order(2)[1] == chain.bob


def test_modify_changes_target_and_min_out_but_not_history(chain: Chain) -> None:
    order_id, created = chain.create(chain.alice, "ETH", E18, "USDC", 3500)
    receipt = chain.send(
        chain.router.functions.modifyOrder(order_id, 3600 * E18, 3500 * 10**6), chain.alice
    )
    (log,) = trading_logs(receipt, chain.trading.address, MODIFIED)
    assert log["topics"] == [MODIFIED, word(order_id)]
    assert decode(["uint256", "uint256"], log["data"]) == (3600 * E18, 3500 * 10**6)
    assert chain.get_order(order_id)[5:7] == (3600 * E18, 3500 * 10**6)
    assert chain.get_order(order_id, created["blockNumber"])[5:7] == (3500 * E18, 0)

    receipt = chain.send(chain.trading.functions.modifyOrder(order_id, 3700 * E18, 0), chain.alice)
    assert len(trading_logs(receipt, chain.trading.address, MODIFIED)) == 1
    assert chain.get_order(order_id)[5:7] == (3700 * E18, 0)


def test_only_the_owner_modifies_or_cancels_and_only_while_pending(chain: Chain) -> None:
    order_id, _ = chain.create(chain.alice, "ETH", E18, "USDC", 3500)
    with reverts("NotOrderOwner(uint256)"):
        chain.send(chain.router.functions.modifyOrder(order_id, 1, 0), chain.bob)
    with reverts("NotOrderOwner(uint256)"):
        chain.send(chain.trading.functions.cancelOrder(order_id), chain.bob)
    chain.send(chain.router.functions.cancelOrder(order_id), chain.alice)
    with reverts("OrderNotPending(uint256)"):
        chain.send(chain.router.functions.modifyOrder(order_id, 1, 0), chain.alice)
    with reverts("OrderNotPending(uint256)"):
        chain.send(chain.trading.functions.cancelOrder(order_id), chain.alice)
    with reverts("OrderNotFound(uint256)"):
        chain.get_order(99)


def test_cancel_refunds_eth_and_sets_executed(chain: Chain) -> None:
    amount = 2 * E18
    order_id, _ = chain.create(chain.alice, "ETH", amount, "WBTC", 3500)
    before = chain.balance("ETH", chain.alice)
    receipt = chain.send(chain.router.functions.cancelOrder(order_id), chain.alice)

    (log,) = receipt["logs"]
    assert log["address"] == chain.trading.address
    assert log["topics"] == [CANCELLED, word(order_id), word(chain.alice)]
    assert log["data"] == b""
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert chain.balance("ETH", chain.alice) == before - gas + amount
    assert chain.get_order(order_id)[9] is True
    assert chain.trading.functions.escrowed(ETH).call() == 0


def test_cancel_refunds_tokens(chain: Chain) -> None:
    order_id, _ = chain.create(chain.bob, "WBTC", 3 * 10**8, "USDC", 70000, via=chain.trading)
    receipt = chain.send(chain.trading.functions.cancelOrder(order_id), chain.bob)
    assert trading_logs(receipt, chain.trading.address, CANCELLED)[0]["topics"][2] == word(
        chain.bob
    )
    assert chain.balance("WBTC", chain.bob) == 3 * 10**8
    assert chain.get_order(order_id)[9] is True


# (token in, amount in, token out, amount out at ETH 3000, WBTC 60000, LINK 15, USDC 1)
FILLS = [
    ("ETH", E18 // 2, "USDC", 1500 * 10**6),
    ("USDC", 3000 * 10**6, "ETH", E18),
    ("WBTC", 10**7, "USDC", 6000 * 10**6),
    ("LINK", 100 * E18, "WBTC", 2_500_000),
    ("WBTC", 1, "LINK", 4 * 10**13),
]


@pytest.mark.parametrize(("token_in", "amount_in", "token_out", "amount_out"), FILLS)
def test_keeper_executes_through_router_at_oracle_price(
    chain: Chain, token_in: str, amount_in: int, token_out: str, amount_out: int
) -> None:
    order_id, _ = chain.create(chain.alice, token_in, amount_in, token_out, 0, order_type=MARKET)
    received_before = chain.balance(token_out, chain.alice)
    receipt = chain.send(chain.router.functions.executeOrder(order_id), chain.keeper)

    (log,) = trading_logs(receipt, chain.trading.address, EXECUTED)
    assert log["topics"] == [EXECUTED, word(order_id), word(chain.router.address)]
    assert decode(["uint256"], log["data"]) == (amount_out,)
    assert chain.get_order(order_id)[9] is True
    assert chain.balance(token_out, chain.alice) == received_before + amount_out
    assert chain.trading.functions.escrowed(chain.address(token_in)).call() == 0


def test_only_keepers_execute_through_router_and_only_owners_directly(chain: Chain) -> None:
    order_id, _ = chain.create(chain.alice, "ETH", E18, "USDC", 0, order_type=MARKET)
    with reverts("NotKeeper()"):
        chain.send(chain.router.functions.executeOrder(order_id), chain.bob)
    with reverts("NotAuthorizedExecutor(uint256)"):
        chain.send(chain.trading.functions.executeOrder(order_id), chain.keeper)
    with reverts("NotAuthorizedExecutor(uint256)"):
        chain.send(chain.trading.functions.executeOrder(order_id), chain.alice)


def test_self_executable_order_is_executed_by_its_owner(chain: Chain) -> None:
    order_id, _ = chain.create(
        chain.alice, "USDC", 6000 * 10**6, "WBTC", 61000, is_long=True, self_executable=True
    )
    with reverts("NotAuthorizedExecutor(uint256)"):
        chain.send(chain.trading.functions.executeOrder(order_id), chain.bob)
    receipt = chain.send(chain.trading.functions.executeOrder(order_id), chain.alice)

    (log,) = trading_logs(receipt, chain.trading.address, EXECUTED)
    assert log["topics"] == [EXECUTED, word(order_id), word(chain.alice)]
    assert decode(["uint256"], log["data"]) == (10**7,)
    assert chain.balance("WBTC", chain.alice) == 10**7
    assert chain.get_order(order_id)[9] is True
    with reverts("OrderNotPending(uint256)"):
        chain.send(chain.router.functions.executeOrder(order_id), chain.keeper)


# Each order watches ETH (bought when long, sold when short); ETH starts at 3000.
CONDITIONS = [
    (LIMIT, False, 3500, 3600),  # sell at or above
    (LIMIT, True, 2500, 2400),  # buy at or below
    (STOP_LOSS, False, 2500, 2400),  # sell once it falls
    (STOP_LOSS, True, 3500, 3600),  # buy once it rises
]


@pytest.mark.parametrize(("order_type", "is_long", "target", "trigger_price"), CONDITIONS)
def test_price_condition_gates_execution(
    chain: Chain, order_type: int, is_long: bool, target: int, trigger_price: int
) -> None:
    token_in, token_out, amount = ("USDC", "ETH", 10**9) if is_long else ("ETH", "USDC", E18)
    order_id, _ = chain.create(
        chain.alice, token_in, amount, token_out, target, order_type=order_type, is_long=is_long
    )
    triggered, price, _ = chain.trading.functions.quote(order_id).call()
    assert (triggered, price) == (False, 3000 * E18)
    with reverts("PriceConditionNotMet(uint256,uint256,uint256)"):
        chain.send(chain.router.functions.executeOrder(order_id), chain.keeper)

    chain.set_price("ETH", trigger_price)
    assert chain.trading.functions.quote(order_id).call()[0] is True
    receipt = chain.send(chain.router.functions.executeOrder(order_id), chain.keeper)
    assert len(trading_logs(receipt, chain.trading.address, EXECUTED)) == 1


def test_min_amount_out_and_liquidity_protect_execution(chain: Chain) -> None:
    order_id, _ = chain.create(
        chain.alice, "ETH", E18, "USDC", 0, order_type=MARKET, min_out=3001 * 10**6
    )
    with reverts("InsufficientOutput(uint256,uint256,uint256)"):
        chain.send(chain.router.functions.executeOrder(order_id), chain.keeper)
    chain.send(chain.router.functions.modifyOrder(order_id, 0, 3000 * 10**6), chain.alice)

    # Bob's escrowed USDC is not liquidity: with the pool drained, Alice's fill must fail.
    chain.create(chain.bob, "USDC", 5000 * 10**6, "ETH", 2000, is_long=True)
    usdc = chain.address("USDC")
    free = chain.trading.functions.availableLiquidity(usdc).call()
    chain.send(
        chain.trading.functions.withdrawLiquidity(usdc, free, chain.deployer), chain.deployer
    )
    with reverts("InsufficientLiquidity(address,uint256,uint256)"):
        chain.send(chain.router.functions.executeOrder(order_id), chain.keeper)


def test_batch_execution_skips_orders_that_cannot_fill(chain: Chain) -> None:
    ready, _ = chain.create(chain.alice, "ETH", E18, "USDC", 0, order_type=MARKET)
    waiting, _ = chain.create(chain.alice, "ETH", E18, "USDC", 9000)
    receipt = chain.send(chain.router.functions.executeOrders([ready, waiting]), chain.keeper)
    executed = trading_logs(receipt, chain.trading.address, EXECUTED)
    assert [log["topics"][1] for log in executed] == [word(ready)]
    assert chain.get_order(waiting)[9] is False


@pytest.mark.parametrize(
    ("token_in", "token_out", "amount", "order_type", "value", "error"),
    [
        ("ETH", "USDC", 0, LIMIT, 0, "ZeroAmount()"),
        ("USDC", "USDC", 1, LIMIT, 0, "SameToken()"),
        ("ETH", "USDC", 1, CONDITIONAL, 1, "UnsupportedOrderType(uint8)"),
        ("ETH", "USDC", 2, LIMIT, 1, "BadEthValue(uint256,uint256)"),
        ("USDC", "ETH", 1, LIMIT, 1, "BadEthValue(uint256,uint256)"),
    ],
)
def test_invalid_orders_are_rejected(
    chain: Chain,
    token_in: str,
    token_out: str,
    amount: int,
    order_type: int,
    value: int,
    error: str,
) -> None:
    if token_in != "ETH":
        chain.send(chain.tokens[token_in].functions.mint(chain.alice, amount), chain.deployer)
        chain.send(
            chain.tokens[token_in].functions.approve(chain.router.address, amount), chain.alice
        )
    call = chain.router.functions.createOrder(
        chain.address(token_in), chain.address(token_out), amount, E18, 0, order_type, False, False
    )
    with reverts(error):
        chain.send(call, chain.alice, value)
