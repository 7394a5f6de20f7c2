"""Fixtures of the order system tests: a Hardhat node with the contracts deployed once per
session, each test's transactions undone after it, and the processor and API wired to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from contract_driver import ContractDriver
from rpc_proxy import RpcProxy
from web3 import Web3
from web3.types import RPCEndpoint

from order_system.api.app import create_app
from order_system.artifacts import ensure_compiled
from order_system.deploy import Deployment, deploy
from order_system.rpc import JsonRpc
from order_system.settings import OrderSettings


@pytest.fixture(scope="session")
def w3(hardhat_url: str) -> Web3:
    return Web3(Web3.HTTPProvider(hardhat_url, request_kwargs={"timeout": 60}))


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


@pytest.fixture
def flow(w3: Web3, deployment: Deployment) -> Iterator[ContractDriver]:
    """The deployed contracts; every transaction of the test is undone when it ends."""
    snapshot = w3.provider.make_request(RPCEndpoint("evm_snapshot"), [])["result"]
    yield ContractDriver(w3, deployment)
    w3.provider.make_request(RPCEndpoint("evm_setAutomine"), [True])
    assert w3.provider.make_request(RPCEndpoint("evm_revert"), [snapshot])["result"] is True


@pytest.fixture
async def rpc(hardhat_url: str) -> AsyncIterator[JsonRpc]:
    client = JsonRpc(hardhat_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def api(clean_db: asyncpg.Pool, hardhat_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The order API over the test database (its lifespan's resources set directly)."""
    app = create_app(OrderSettings(web3_provider=hardhat_url))
    app.state.pool = clean_db
    app.state.rpc = JsonRpc(hardhat_url, timeout=2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
        yield client
    await app.state.rpc.close()


@pytest.fixture
async def proxy(hardhat_url: str) -> AsyncIterator[RpcProxy]:
    """A fault-injecting proxy in front of the node (tests/order_system/rpc_proxy.py)."""
    async with RpcProxy(hardhat_url) as server:
        yield server
