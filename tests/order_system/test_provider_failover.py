"""Several providers (WEB3_PROVIDERS): a dead one and a rate-limiting one are skipped and
indexing goes on; /health and /metrics show which one is in use and which are down and why; the
dead one is tried again with backoff and used again once it answers. Failover itself, without a
node, in a few unit tests of Providers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from contract_driver import LIMIT, ContractDriver
from rpc_proxy import RpcProxy

from devstack.ports import free_port
from order_system.events.service import EventService
from order_system.providers import AllProvidersDown, Providers, display_name
from order_system.settings import EventSettings
from tests.polling import eventually


def _order(flow: ContractDriver, amount: str) -> None:
    flow.create(
        flow.users[0], "ETH", "USDC", Decimal(amount), Decimal("1"), Decimal("0"), LIMIT, True
    )


class Status:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    async def health(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=3) as client:
            response = await client.get(f"{self.base}/health")
        assert response.status_code == 200
        result: dict[str, Any] = response.json()
        return result

    async def metrics(self) -> str:
        async with httpx.AsyncClient(timeout=3) as client:
            return (await client.get(f"{self.base}/metrics")).text

    def caught_up(self, flow: ContractDriver) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            health = await self.health()
            return bool(health.get("order_indexer_processed_block", -1) >= flow.w3.eth.block_number)

        return check


async def test_a_dead_and_a_rate_limiting_provider_are_skipped_and_the_dead_one_used_again(
    flow: ContractDriver, clean_db: asyncpg.Pool, service_env: dict[str, str], proxy: RpcProxy
) -> None:
    async with RpcProxy(proxy.upstream) as second:
        port = free_port()
        env = {
            **service_env,
            "WEB3_PROVIDERS": f"{proxy.url}, {second.url}",
            "TRADING_ADDRESS": flow.deployment.trading,
            "START_BLOCK": str(flow.deployment.block_number),
            "CONFIRMATIONS": "0",
            "POLL_INTERVAL": "0.1",
            "RPC_TIMEOUT": "2",
            "METRICS_PORT": str(port),
        }
        fields = {k.lower(): v for k, v in env.items() if k.lower() in EventSettings.model_fields}
        service = EventService(EventSettings.model_validate(fields), asyncio.Event())
        status = Status(port)
        first_name, second_name = display_name(proxy.url), display_name(second.url)
        await service.start()
        try:
            _order(flow, "0.1")
            await eventually(status.caught_up(flow), 30, what="indexed through the first provider")
            await proxy.down()  # connections refused
            second.limit_get_logs = 3  # and the other refuses for its rate, for a while
            _order(flow, "0.2")
            _order(flow, "0.3")
            await eventually(status.caught_up(flow), 60, what="indexed through the second provider")
            providers = {p["provider"]: p for p in (await status.health())["providers"]}
            assert providers[second_name]["in_use"] is True
            assert providers[first_name]["up"] is False
            assert "refused" in providers[first_name]["down_reason"].lower()
            assert len(second.limited) == 3
            metrics = await status.metrics()
            assert f'order_indexer_provider_up{{provider="{first_name}"}} 0.0' in metrics
            assert f'order_indexer_provider_in_use{{provider="{second_name}"}} 1.0' in metrics
            assert f'order_indexer_provider_failures_total{{provider="{second_name}"}}' in metrics
            assert service.rpc.providers[1].failures >= 1  # set aside while rate limiting

            await proxy.up()
            back_at = time.monotonic()

            async def first_in_use() -> bool:
                return any(
                    p["provider"] == first_name and p["in_use"] and p["up"]
                    for p in (await status.health())["providers"]
                )

            await eventually(first_in_use, 90, what="the first provider used again")
            _order(flow, "0.4")
            await eventually(
                status.caught_up(flow), 30, what="indexed through the first provider again"
            )
            assert any(t > back_at for t in proxy.requests)
            assert service.rpc.failovers >= 2
            metrics = await status.metrics()
            assert f'order_indexer_provider_up{{provider="{first_name}"}} 1.0' in metrics
            assert f'order_indexer_provider_in_use{{provider="{first_name}"}} 1.0' in metrics
        finally:
            service.stop.set()
            await service.close()
    assert await clean_db.fetchval("SELECT count(*) FROM orders") == 4


async def test_the_first_provider_that_answers_serves_and_the_others_are_tried_later() -> None:
    dead, also_dead = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    async with RpcProxy("http://127.0.0.1:1") as alive:  # answers nothing useful upstream,
        alive.serve_view(41)  # but eth_blockNumber from its view
        async with Providers([dead, alive.url, also_dead], timeout=2) as providers:
            assert int(await providers.call("eth_blockNumber", []), 16) == 41
            down = [p for p in providers.providers if p.down is not None]
            assert [p.name for p in down] == [display_name(dead)]
            assert providers.current.name == display_name(alive.url)
            assert providers.providers[2].failures == 0  # never needed, never asked
            await alive.down()
            await providers.reconnect()  # kept-alive connections outlive the listener
            with pytest.raises(AllProvidersDown) as raised:
                await providers.call("eth_blockNumber", [])
            assert raised.value.retry_after is not None and raised.value.retry_after <= 1.1


async def test_a_single_provider_is_never_set_aside() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with Providers([url], timeout=2) as providers:
        for _ in range(2):
            with pytest.raises(ConnectionError) as raised:
                await providers.call("eth_blockNumber", [])
            assert not isinstance(raised.value, AllProvidersDown)
        assert providers.providers[0].down is None


def test_provider_names_in_health_hide_what_may_be_a_key() -> None:
    assert display_name("https://user:secret@mainnet.example.io/v3/0123abcd?x=1") == (
        "https://mainnet.example.io/…"
    )
    assert display_name("http://127.0.0.1:8545") == "http://127.0.0.1:8545"


def test_web3_providers_are_a_comma_list_or_json_and_default_to_web3_provider() -> None:
    trading = "0x" + "1" * 40
    one = EventSettings(trading_address=trading, web3_provider="http://a:1")
    assert one.provider_urls == ["http://a:1"]
    listed = EventSettings.model_validate(
        {"trading_address": trading, "web3_providers": "http://a:1, http://b:2"}
    )
    assert listed.provider_urls == ["http://a:1", "http://b:2"]
    as_json = EventSettings.model_validate(
        {"trading_address": trading, "web3_providers": '["http://c:3"]'}
    )
    assert as_json.provider_urls == ["http://c:3"]
