"""Scripted trader for the offline demo: the oracle follows the live market, orders flow.

    python demo/trader.py --rpc http://127.0.0.1:8545 \
        --deployment .run/deployment.json --api http://127.0.0.1:8022

Every tick it reads BTCUSDT and ETHUSDT from the api-server (`/price`), sets the Oracle's WBTC
and ETH prices to them (USD with 18 decimals, exact), then, with the chain's unlocked accounts,
creates limit and stop orders around the current price (ETH and the 6/8/18-decimal test
tokens), modifies and cancels some, and executes those whose condition holds: by the keeper
through the Router, or by their owner when self-executable. A failing transaction is logged
and the loop goes on.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.exceptions import Web3Exception
from web3.logs import DISCARD

from order_system.deploy import ETH, Deployment, contract_at

LIMIT, STOP = 0, 1
PRICE_SCALE = 18
MAX_PENDING = 30
# What a failed transaction or call may raise: a revert, a node error, a broken connection.
TX_ERRORS = (Web3Exception, ValueError, OSError)
log = logging.getLogger("trader")


@dataclass(frozen=True)
class Asset:
    symbol: str
    address: str
    decimals: int
    low: Decimal  # order sizes are drawn between low and high, in steps of `step`
    high: Decimal
    step: Decimal

    def random_amount(self, rng: random.Random) -> Decimal:
        steps = rng.randint(int(self.low / self.step), int(self.high / self.step))
        return steps * self.step

    def units(self, amount: Decimal) -> int:
        return int(amount.scaleb(self.decimals))


@dataclass(frozen=True)
class Pair:
    """An order from `token_in` to `token_out`; `watched` is the asset whose price triggers it
    (the one bought when long, the one sold when short)."""

    token_in: str
    token_out: str
    is_long: bool

    @property
    def watched(self) -> str:
        return self.token_out if self.is_long else self.token_in


PAIRS = (
    Pair("ETH", "USDC", is_long=False),
    Pair("USDC", "ETH", is_long=True),
    Pair("WBTC", "USDC", is_long=False),
    Pair("USDC", "WBTC", is_long=True),
    Pair("LINK", "ETH", is_long=True),
    Pair("ETH", "WBTC", is_long=True),
    Pair("WBTC", "LINK", is_long=False),
)
MARKETS = {"ETH": "ETHUSDT", "WBTC": "BTCUSDT"}


@dataclass
class Placed:
    user: str
    self_executable: bool


def to_price_units(price: Decimal) -> int:
    """A USD price as the Oracle's 18-decimal integer, exactly: no float on the way."""
    with localcontext() as context:
        context.prec = 80
        return int(price.scaleb(PRICE_SCALE).to_integral_value())


def fetch_price(api: str, symbol: str) -> Decimal | None:
    """The latest 1-minute close the api-server knows for `symbol`, or None."""
    query = urllib.parse.urlencode({"symbol": symbol, "timeframe": "1"})
    try:
        with urllib.request.urlopen(f"{api}/price?{query}", timeout=5) as response:
            body = json.loads(response.read())
        price = Decimal(body["current_price"])
    except (OSError, ValueError, KeyError, TypeError, InvalidOperation) as problem:
        log.warning("no %s price from %s: %s", symbol, api, problem)
        return None
    return price if price > 0 else None


class Trader:
    def __init__(self, w3: Web3, deployment: Deployment, api: str, rng: random.Random) -> None:
        self.w3 = w3
        self.api = api.rstrip("/")
        self.rng = rng
        self.trading = contract_at(w3, "Trading", deployment.trading)
        self.router = contract_at(w3, "Router", deployment.router)
        self.oracle = contract_at(w3, "Oracle", deployment.oracle)
        accounts: list[str] = list(w3.eth.accounts)
        self.keeper = accounts[0]  # deployed everything: Oracle owner and Router keeper
        self.users = accounts[1:5]
        tokens = deployment.tokens
        self.assets = {
            "ETH": Asset("ETH", ETH, 18, Decimal("0.01"), Decimal("0.5"), Decimal("0.001")),
            "USDC": Asset(
                "USDC", tokens["USDC"].address, 6, Decimal("20"), Decimal("2000"), Decimal("0.01")
            ),
            "WBTC": Asset(
                "WBTC",
                tokens["WBTC"].address,
                8,
                Decimal("0.0005"),
                Decimal("0.02"),
                Decimal("0.00001"),
            ),
            "LINK": Asset(
                "LINK", tokens["LINK"].address, 18, Decimal("1"), Decimal("50"), Decimal("0.01")
            ),
        }
        # The deployment's prices until the market says otherwise.
        self.prices = {
            "ETH": Decimal("3000"),
            "USDC": Decimal("1"),
            "WBTC": Decimal("60000"),
            "LINK": Decimal("15"),
        }
        self.pending: dict[int, Placed] = {}

    # -- transactions ---------------------------------------------------------------------

    def send(self, what: str, call: Any, sender: str, value: int = 0) -> Any | None:
        """The receipt of a successful transaction; None (logged) when it fails."""
        try:
            tx_hash = call.transact({"from": sender, "value": value})
            receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        except TX_ERRORS as problem:
            log.warning("%s failed: %s", what, problem)
            return None
        if receipt["status"] != 1:
            log.warning("%s reverted in block %s", what, receipt["blockNumber"])
            return None
        return receipt

    def fund_users(self) -> None:
        grants = {"USDC": Decimal("1000000"), "WBTC": Decimal("50"), "LINK": Decimal("100000")}
        for symbol, amount in grants.items():
            asset = self.assets[symbol]
            token = contract_at(self.w3, "TestToken", asset.address)
            for user in self.users:
                self.send(
                    f"mint {symbol}", token.functions.mint(user, asset.units(amount)), self.keeper
                )
                for spender in (self.trading.address, self.router.address):
                    self.send(
                        f"approve {symbol}", token.functions.approve(spender, 2**256 - 1), user
                    )

    # -- market ---------------------------------------------------------------------------

    def follow_market(self) -> None:
        changed: dict[str, Decimal] = {}
        for asset, market in MARKETS.items():
            price = fetch_price(self.api, market)
            if price is not None and price != self.prices[asset]:
                changed[asset] = price
        if not changed:
            return
        addresses = [self.assets[asset].address for asset in changed]
        values = [to_price_units(price) for price in changed.values()]
        call = self.oracle.functions.setPrices(addresses, values)
        if self.send("oracle update", call, self.keeper):
            self.prices.update(changed)
            log.info("oracle: %s", ", ".join(f"{a}={p}" for a, p in changed.items()))

    # -- orders ---------------------------------------------------------------------------

    def target_near_market(self, asset: str) -> Decimal:
        offset = Decimal(self.rng.randint(-40, 40)) / 10_000  # within +-0.4 %
        return (self.prices[asset] * (1 + offset)).quantize(Decimal("0.0001"))

    def create_order(self) -> None:
        pair = self.rng.choice(PAIRS)
        order_type = self.rng.choice((LIMIT, STOP))
        user = self.rng.choice(self.users)
        asset_in, asset_out = self.assets[pair.token_in], self.assets[pair.token_out]
        amount = asset_in.random_amount(self.rng)
        target = self.target_near_market(pair.watched)
        # Half the orders accept any output; the others want 90 % of today's fair value.
        min_out = 0
        if self.rng.random() < 0.5:
            fair = amount * self.prices[pair.token_in] / self.prices[pair.token_out]
            min_out = asset_out.units((fair * Decimal("0.9")).quantize(Decimal(1).scaleb(-6)))
        self_executable = self.rng.random() < 0.3
        contract = self.router if self.rng.random() < 0.7 else self.trading
        raw = asset_in.units(amount)
        call = contract.functions.createOrder(
            asset_in.address,
            asset_out.address,
            raw,
            to_price_units(target),
            min_out,
            order_type,
            pair.is_long,
            self_executable,
        )
        kind = "LIMIT" if order_type == LIMIT else "STOP"
        what = f"create {kind} {amount} {pair.token_in}->{pair.token_out} @ {target}"
        receipt = self.send(what, call, user, value=raw if asset_in.address == ETH else 0)
        if receipt is None:
            return
        events = self.trading.events.OrderCreated().process_receipt(receipt, errors=DISCARD)
        for event in events:
            order_id = int(event["args"]["orderId"])
            self.pending[order_id] = Placed(user, self_executable)
            log.info("%s: order %d", what, order_id)

    def modify_one(self) -> None:
        if not self.pending:
            return
        order_id = self.rng.choice(list(self.pending))
        placed = self.pending[order_id]
        try:
            order = self.trading.functions.getOrder(order_id).call()
        except TX_ERRORS as problem:
            log.warning("reading order %d failed: %s", order_id, problem)
            return
        token_in, token_out, is_long = order[2], order[3], order[8]
        watched = token_out if is_long else token_in
        asset = next(a.symbol for a in self.assets.values() if a.address.lower() == watched.lower())
        target = self.target_near_market(asset)
        call = self.router.functions.modifyOrder(order_id, to_price_units(target), 0)
        if self.send(f"modify order {order_id}", call, placed.user):
            log.info("modified order %d: target %s", order_id, target)

    def cancel(self, order_id: int) -> None:
        placed = self.pending.pop(order_id)
        contract = self.router if self.rng.random() < 0.5 else self.trading
        if self.send(
            f"cancel order {order_id}", contract.functions.cancelOrder(order_id), placed.user
        ):
            log.info("cancelled order %d", order_id)

    def execute_eligible(self, most: int = 4) -> None:
        executed = 0
        for order_id in list(self.pending):
            if executed >= most:
                return
            placed = self.pending[order_id]
            try:
                triggered, _price, amount_out = self.trading.functions.quote(order_id).call()
                minimum = self.trading.functions.getOrder(order_id).call()[6]
            except TX_ERRORS:
                self.pending.pop(order_id)  # executed or cancelled meanwhile
                continue
            if not triggered or amount_out < minimum:
                continue
            if placed.self_executable and self.rng.random() < 0.5:
                call, sender, by = (
                    self.trading.functions.executeOrder(order_id),
                    placed.user,
                    "owner",
                )
            else:
                call, sender, by = (
                    self.router.functions.executeOrder(order_id),
                    self.keeper,
                    "keeper",
                )
            if self.send(f"execute order {order_id}", call, sender):
                self.pending.pop(order_id, None)
                executed += 1
                log.info("executed order %d by %s", order_id, by)

    def tick(self) -> None:
        self.follow_market()
        for _ in range(self.rng.randint(1, 2)):
            self.create_order()
        if self.rng.random() < 0.3:
            self.modify_one()
        if self.pending and self.rng.random() < 0.2:
            self.cancel(self.rng.choice(list(self.pending)))
        while len(self.pending) > MAX_PENDING:
            self.cancel(min(self.pending))
        self.execute_eligible()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpc", default="http://127.0.0.1:8545", help="JSON-RPC URL")
    parser.add_argument("--deployment", type=Path, required=True, help="deployment JSON")
    parser.add_argument("--api", default="http://127.0.0.1:8022", help="api-server URL")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between ticks")
    parser.add_argument("--ticks", type=int, default=0, help="stop after this many (0: never)")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatability")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s trader: %(message)s",
        stream=sys.stdout,
    )

    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    w3 = Web3(Web3.HTTPProvider(args.rpc, request_kwargs={"timeout": 30}))
    if not w3.is_connected():
        log.error("no JSON-RPC node answers at %s", args.rpc)
        return 1
    trader = Trader(w3, Deployment.load(args.deployment), args.api, random.Random(args.seed))
    trader.fund_users()
    log.info("trading with %d users; keeper %s", len(trader.users), trader.keeper)
    ticks = 0
    while not stopping and (args.ticks == 0 or ticks < args.ticks):
        started = time.monotonic()
        trader.tick()
        ticks += 1
        while not stopping and time.monotonic() - started < args.interval:
            time.sleep(0.1)
    log.info("stopping after %d ticks with %d orders pending", ticks, len(trader.pending))
    return 0


if __name__ == "__main__":
    sys.exit(main())
