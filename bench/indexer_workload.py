"""The indexer benchmark's order flow, mined through raw JSON-RPC batches: creations (ETH into
USDC), then each order's later events (keeper executions, cancels, modifications), either every
creation first or in waves mixed into the same blocks as the previous wave's later events."""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

from eth_utils.crypto import keccak

from order_system.deploy import ETH, Deployment
from order_system.events.decoding import TOPICS, EventKind
from order_system.rpc import JsonRpc

# A block takes transactions by gas limit: 70 x 400,000 fits Hardhat's 30M.
MAX_PER_BLOCK = 70


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


CREATE = _selector("createOrder(address,address,uint256,uint256,uint256,uint8,bool,bool)")
CANCEL = _selector("cancelOrder(uint256)")
MODIFY = _selector("modifyOrder(uint256,uint256,uint256)")
EXECUTE = _selector("executeOrder(uint256)")


def _words(*values: int | str) -> str:
    return "".join(format(int(v, 16) if isinstance(v, str) else int(v), "064x") for v in values)


def _tx(sender: str, to: str, data: str, gas: int = 300_000, value: int = 0) -> dict[str, Any]:
    tx = {"from": sender, "to": to, "data": data, "gas": hex(gas)}
    return {**tx, "value": hex(value)} if value else tx


async def _send_all(rpc: JsonRpc, txs: list[dict[str, Any]], per_block: int) -> None:
    """Send with automine off, mining `per_block` transactions per block."""
    await rpc.call("evm_setAutomine", [False])
    for first in range(0, len(txs), per_block):
        answers = await rpc.batch(
            [("eth_sendTransaction", [tx]) for tx in txs[first : first + per_block]]
        )
        failed = [a for a in answers if isinstance(a, Exception)]
        if failed:
            raise RuntimeError(f"send failed: {failed[0]}")
        await rpc.call("evm_mine", [])
    while True:  # mine what is still waiting
        await rpc.call("evm_mine", [])
        block = await rpc.call("eth_getBlockByNumber", ["latest", False])
        if not block["transactions"]:
            break
    await rpc.call("evm_setAutomine", [True])


class Workload:
    """The benchmark's workload: creations (ETH into USDC), then for each order its later
    events: every 10th executed by the keeper, every 5th of the rest cancelled, every 3rd of
    those left modified, and `modify_rounds` more modifications of every order left pending.
    With `close_all`, the orders left pending are cancelled after their modifications, so that
    every order ends as on an exchange whose history is caught up."""

    def __init__(
        self,
        deployment: Deployment,
        accounts: list[str],
        modify_rounds: int = 0,
        close_all: bool = False,
    ) -> None:
        self.deployment = deployment
        self.keeper, self.users = accounts[0], accounts[1:10]
        self.modify_rounds = modify_rounds
        self.close_all = close_all

    def create(self, i: int) -> dict[str, Any]:
        amount = 10**15 + i  # tells which create an OrderCreated event belongs to
        executable = i % 10 == 0  # LIMIT long on USDC at 1.05: the keeper can execute it
        target = 105 * 10**16 if executable else 3 * 10**17 + i
        data = CREATE + _words(
            ETH,
            self.deployment.tokens["USDC"].address,
            amount,
            target,
            0,
            0 if executable else i % 2,
            1 if executable or i % 3 == 0 else 0,
            0,
        )
        sender = self.users[i % len(self.users)]
        return _tx(sender, self.deployment.trading, data, 400_000, value=amount)

    def later(self, i: int, order_id: int, user: str) -> list[dict[str, Any]]:
        trading = self.deployment.trading
        if i % 10 == 0:
            return [_tx(self.keeper, self.deployment.router, EXECUTE + _words(order_id), 400_000)]
        if i % 5 == 4:
            return [_tx(user, trading, CANCEL + _words(order_id))]
        modifications = [(5 * 10**17 + i + r, i + r) for r in range(self.modify_rounds)]
        if i % 3 == 1:
            modifications.insert(0, (4 * 10**17 + i, i))
        txs = [
            _tx(user, trading, MODIFY + _words(order_id, target, min_out))
            for target, min_out in modifications
        ]
        if self.close_all:  # one sender: mined after its modifications, in nonce order
            txs.append(_tx(user, trading, CANCEL + _words(order_id)))
        return txs

    async def created(self, rpc: JsonRpc, start: int, end: int) -> list[tuple[int, int, str]]:
        """(create number, order id, owner) of the orders created in blocks [start, end].
        Transactions of one block are not mined in the order sent: the amount tells."""
        logs = await rpc.call(
            "eth_getLogs",
            [{"address": self.deployment.trading, "fromBlock": hex(start), "toBlock": hex(end),
              "topics": [TOPICS[EventKind.CREATED]]}],
        )  # fmt: skip
        return [
            (int(log["data"][130:194], 16) - 10**15, int(log["topics"][1], 16),
             "0x" + log["topics"][2][-40:])
            for log in logs
        ]  # fmt: skip


async def generate(
    rpc: JsonRpc,
    deployment: Deployment,
    creates: int,
    modify_rounds: int = 0,
    per_block: int = MAX_PER_BLOCK,
    wave: int | None = None,
    close_all: bool = False,
) -> None:
    """Mine the flow. Without `wave`, every creation first and then every later event (all
    the getOrder reads at the start of the chain). With it, creations in waves of `wave`
    orders, each wave's blocks also carrying the later events of the wave before, as a live
    exchange's chain mixes them."""
    accounts = await rpc.call("eth_accounts", [])
    workload = Workload(deployment, accounts, modify_rounds, close_all)
    step = wave or creates
    later: list[dict[str, Any]] = []
    for first in range(0, creates, step):
        news = [workload.create(i) for i in range(first, min(creates, first + step))]
        start = int(await rpc.call("eth_blockNumber", []), 16) + 1
        # Alternated, so that each block holds creations and later events.
        mixed = [tx for pair in zip_longest(news, later) for tx in pair if tx is not None]
        await _send_all(rpc, mixed, per_block)
        end = int(await rpc.call("eth_blockNumber", []), 16)
        created = await workload.created(rpc, start, end)
        later = [tx for order in sorted(created) for tx in workload.later(*order)]
    await _send_all(rpc, later, per_block)
