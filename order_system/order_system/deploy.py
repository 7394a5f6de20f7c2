"""Deploys the order contracts to a development chain and writes a deployment file.

    python -m order_system.deploy --rpc http://127.0.0.1:8545 \
        --out order_system/deployments/localhost.json

Compiles the contracts first when the artifacts are missing or stale (needs `npm install`).
Deploys Oracle, Trading, Router and three TestTokens (6, 8 and 18 decimals) from the chain's
first unlocked account, sets oracle prices, wires Trading to the Router and funds Trading with
liquidity. If the file exists and describes a Trading contract that has code on this chain, it
is kept as is (use --force to deploy again). The file holds::

    {"chain_id": 31337, "block_number": 2, "trading": "0x..", "router": "0x..",
     "oracle": "0x..", "tokens": {"USDC": {"address": "0x..", "decimals": 6}, ...}}

`block_number` is the block of Trading's deployment: an indexer needs nothing before it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.types import Wei

from order_system.artifacts import ARTIFACTS_DIR, ArtifactError, ensure_compiled, load_artifact

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "deployments" / "localhost.json"
ETH = Web3.to_checksum_address("0x" + "00" * 20)
PRICE_SCALE = 10**18


@dataclass(frozen=True)
class TokenSpec:
    symbol: str
    name: str
    decimals: int
    price_usd: Decimal
    liquidity: Decimal  # whole tokens minted to Trading


TOKENS = (
    TokenSpec("USDC", "Test USD Coin", 6, Decimal("1"), Decimal("10000000")),
    TokenSpec("WBTC", "Test Wrapped Bitcoin", 8, Decimal("60000"), Decimal("200")),
    TokenSpec("LINK", "Test Chainlink", 18, Decimal("15"), Decimal("1000000")),
)
ETH_PRICE_USD = Decimal("3000")
ETH_LIQUIDITY = Decimal("1000")


@dataclass(frozen=True)
class DeployedToken:
    address: ChecksumAddress
    decimals: int


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    block_number: int
    trading: ChecksumAddress
    router: ChecksumAddress
    oracle: ChecksumAddress
    tokens: dict[str, DeployedToken]

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "block_number": self.block_number,
            "trading": self.trading,
            "router": self.router,
            "oracle": self.oracle,
            "tokens": {
                symbol: {"address": token.address, "decimals": token.decimals}
                for symbol, token in self.tokens.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        return cls(
            chain_id=int(data["chain_id"]),
            block_number=int(data["block_number"]),
            trading=Web3.to_checksum_address(data["trading"]),
            router=Web3.to_checksum_address(data["router"]),
            oracle=Web3.to_checksum_address(data["oracle"]),
            tokens={
                symbol: DeployedToken(Web3.to_checksum_address(t["address"]), int(t["decimals"]))
                for symbol, t in data["tokens"].items()
            },
        )

    @classmethod
    def load(cls, path: Path) -> Deployment:
        return cls.from_json(json.loads(path.read_text()))

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        temporary.replace(path)


def to_units(amount: Decimal, decimals: int) -> int:
    return int(amount.scaleb(decimals))


def contract_at(w3: Web3, name: str, address: str, artifacts: Path = ARTIFACTS_DIR) -> Contract:
    return w3.eth.contract(
        address=Web3.to_checksum_address(address), abi=load_artifact(name, artifacts).abi
    )


class _Deployer:
    def __init__(self, w3: Web3, account: str, artifacts: Path) -> None:
        self.w3 = w3
        self.account = account
        self.artifacts = artifacts

    def create(self, name: str, *args: Any) -> tuple[Contract, int]:
        artifact = load_artifact(name, self.artifacts)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self.wait(factory.constructor(*args).transact({"from": self.account}))
        address = receipt["contractAddress"]
        return self.w3.eth.contract(address=address, abi=artifact.abi), int(receipt["blockNumber"])

    def wait(self, tx_hash: HexBytes) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction {Web3.to_hex(tx_hash)} reverted")
        return receipt

    def send(self, call: Any, value: int = 0) -> Any:
        return self.wait(call.transact({"from": self.account, "value": value}))


def deploy(w3: Web3, *, account: str | None = None, artifacts: Path = ARTIFACTS_DIR) -> Deployment:
    """Deploys and configures every contract; returns their addresses."""
    sender = Web3.to_checksum_address(account or w3.eth.accounts[0])
    deployer = _Deployer(w3, sender, artifacts)

    oracle, _ = deployer.create("Oracle")
    trading, trading_block = deployer.create("Trading", oracle.address)
    router, _ = deployer.create("Router", trading.address)
    deployer.send(trading.functions.setRouter(router.address))

    tokens: dict[str, DeployedToken] = {}
    price_tokens, prices = [ETH], [to_units(ETH_PRICE_USD, 18)]
    for spec in TOKENS:
        token, _ = deployer.create("TestToken", spec.name, spec.symbol, spec.decimals)
        deployer.send(
            token.functions.mint(trading.address, to_units(spec.liquidity, spec.decimals))
        )
        tokens[spec.symbol] = DeployedToken(token.address, spec.decimals)
        price_tokens.append(token.address)
        prices.append(to_units(spec.price_usd, 18))
    deployer.send(oracle.functions.setPrices(price_tokens, prices))
    deployer.wait(
        w3.eth.send_transaction(
            {"from": sender, "to": trading.address, "value": Wei(to_units(ETH_LIQUIDITY, 18))}
        )
    )
    return Deployment(
        chain_id=w3.eth.chain_id,
        block_number=trading_block,
        trading=trading.address,
        router=router.address,
        oracle=oracle.address,
        tokens=tokens,
    )


def existing_deployment(w3: Web3, path: Path) -> Deployment | None:
    """The deployment in `path` if it belongs to this chain and its Trading has code."""
    try:
        deployment = Deployment.load(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"ignoring unreadable deployment file {path}: {exc}", file=sys.stderr)
        return None
    if deployment.chain_id != w3.eth.chain_id or not w3.eth.get_code(deployment.trading):
        return None
    return deployment


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m order_system.deploy", description=__doc__)
    parser.add_argument("--rpc", default="http://127.0.0.1:8545", help="JSON-RPC URL")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="deployment file")
    parser.add_argument("--artifacts", type=Path, default=ARTIFACTS_DIR)
    parser.add_argument("--account", help="unlocked sender (default: the node's first account)")
    parser.add_argument("--force", action="store_true", help="deploy even if the file is current")
    args = parser.parse_args(argv)

    w3 = Web3(Web3.HTTPProvider(args.rpc, request_kwargs={"timeout": 30}))
    if not w3.is_connected():
        print(f"no JSON-RPC node answers at {args.rpc}", file=sys.stderr)
        return 1
    current = None if args.force else existing_deployment(w3, args.out)
    if current is not None:
        print(f"{args.out} is current: Trading {current.trading} on chain {current.chain_id}")
        return 0
    try:
        if args.artifacts == ARTIFACTS_DIR:
            ensure_compiled()
        deployment = deploy(w3, account=args.account, artifacts=args.artifacts)
    except ArtifactError as exc:
        print(exc, file=sys.stderr)
        return 1
    deployment.write(args.out)
    print(f"deployed Trading {deployment.trading} (block {deployment.block_number}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
