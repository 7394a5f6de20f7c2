"""Fixtures of the relay's tests: relay processes and counting consumers that are stopped
after each test (tests/conftest.py provides the database and the brokers)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from relay_harness import ConsumerFactory, CountingConsumer, RelayFactory, RelayProcess, Started


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[RelayFactory]:
    """`relays(dsn, amqp_url, exchange)`: a relay process (not started), stopped at the end."""
    made: list[RelayProcess] = []

    def make(dsn: str, amqp_url: str, exchange: str) -> RelayProcess:
        relay = RelayProcess(dsn, amqp_url, exchange, tmp_path / f"relay-{len(made)}.log")
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay.terminate()


@pytest.fixture
async def consumers() -> AsyncIterator[ConsumerFactory]:
    """`consumers(amqp_url, exchange)`: a counting consumer (not started), closed at the end."""
    made: list[CountingConsumer] = []

    def make(url: str, exchange: str) -> CountingConsumer:
        consumer = CountingConsumer(url, exchange)
        made.append(consumer)
        return consumer

    yield make
    for consumer in made:
        await consumer.close()


@pytest.fixture
def started(relays: RelayFactory, consumers: ConsumerFactory) -> Started:
    """`await started(dsn, amqp_url, name, **env)`: a counting consumer on the exchange
    `test.<name>.<pid>`, and a relay publishing to it with `env` added, both started."""

    async def start(
        dsn: str, amqp_url: str, name: str, **env: str
    ) -> tuple[CountingConsumer, RelayProcess]:
        exchange = f"test.{name}.{os.getpid()}"
        consumer = consumers(amqp_url, exchange)
        await consumer.start()
        relay = relays(dsn, amqp_url, exchange)
        relay.env.update(env)
        relay.start()
        return consumer, relay

    return start
