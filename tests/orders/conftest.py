"""A fresh Hardhat node per session with the order contracts deployed once.

`hardhat_url` is meant to move into tests/conftest.py; it yields the http URL of a node that
this session started (log: tests/artifacts/hardhat-<pid>.log).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3
from web3.types import RPCEndpoint

from devstack.hardhat import HardhatNode
from order_system.artifacts import ensure_compiled
from order_system.deploy import Deployment, deploy

LOG_DIR = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="session")
def hardhat_url() -> Iterator[str]:
    with HardhatNode(LOG_DIR / f"hardhat-{os.getpid()}.log") as node:
        yield node.url


@pytest.fixture(scope="session")
def w3(hardhat_url: str) -> Web3:
    return Web3(Web3.HTTPProvider(hardhat_url, request_kwargs={"timeout": 30}))


@pytest.fixture(scope="session")
def deployment(w3: Web3) -> Deployment:
    ensure_compiled()
    return deploy(w3)


@pytest.fixture
def chain_snapshot(w3: Web3, deployment: Deployment) -> Iterator[None]:
    """Undo every transaction of the test (prices, balances, orders) when it ends."""
    snapshot = w3.provider.make_request(RPCEndpoint("evm_snapshot"), [])["result"]
    yield
    assert w3.provider.make_request(RPCEndpoint("evm_revert"), [snapshot])["result"] is True
