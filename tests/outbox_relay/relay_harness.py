"""What the relay's tests drive: the relay as a real process (`python -m outbox_relay`), a
writer adding outbox rows in transactions that outlive a database restart, and a counting
consumer on a durable queue bound to `#` that outlives a broker restart."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import urllib.request
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import aiormq
import asyncpg
from aio_pika.abc import AbstractIncomingMessage

from devstack.ports import free_port
from devstack.postgres import db_env
from linkora_core import db, outbox

REPO = Path(__file__).resolve().parents[2]
KEYS = tuple(f"crypto.kline.updated.test.spot.K{n}USDT.1m" for n in range(4))
BROKER_DOWN = (aiormq.exceptions.AMQPError, ConnectionError, OSError, TimeoutError)


class RelayProcess:
    """`python -m outbox_relay` with the test's settings; restartable, killable."""

    def __init__(self, dsn: str, amqp_url: str, exchange: str, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.env = {
            **os.environ, **db_env(dsn),
            "AMQP_URL": amqp_url, "OUTBOX_EXCHANGE": exchange, "OUTBOX_POLL_SECONDS": "0.2",
            "OUTBOX_BATCH_SIZE": "200", "OUTBOX_WINDOW": "64",
            "METRICS_HOST": "127.0.0.1", "METRICS_PORT": str(self.port), "LOG_LEVEL": "INFO",
        }  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "outbox_relay"], env=self.env, cwd=REPO,
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no drain, no clean stop, wherever it is."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def health(self) -> dict[str, Any] | None:
        try:
            url = f"http://127.0.0.1:{self.port}/health"
            with urllib.request.urlopen(url, timeout=2) as response:
                body: dict[str, Any] = json.loads(response.read())
                return body
        except OSError:
            return None

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class Writer:
    """Adds outbox rows in transactions of 1-20 rows over the keys in turn; each body holds
    its key's sequence number. A transaction the database drops is tried again with the
    same ids (one already committed is not written twice)."""

    dsn: str
    written: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    bodies: dict[str, str] = field(default_factory=dict)
    retries: int = 0

    def messages(self, count: int, rng: random.Random) -> list[list[outbox.Message]]:
        batches, batch = [], []
        for n in range(count):
            key = KEYS[rng.randrange(len(KEYS))]
            seq = len(self.written[key])
            message_id = f"test:{key}:{seq}"
            body = json.dumps({"key": key, "seq": seq, "pad": "x" * rng.randrange(200)})
            self.written[key].append(message_id)
            self.bodies[message_id] = body
            batch.append(outbox.Message(message_id, key, body))
            if len(batch) >= rng.randint(1, 20) or n == count - 1:
                batches.append(batch)
                batch = []
        return batches

    async def write(self, count: int, seed: int, pace: float = 0.002) -> None:
        rng = random.Random(seed)
        connection: asyncpg.Connection | None = None
        for batch in self.messages(count, rng):
            while True:
                try:
                    if connection is None or connection.is_closed():
                        connection = await asyncpg.connect(self.dsn, timeout=5)
                    async with connection.transaction():
                        await outbox.add(connection, batch)
                    break
                except (*db.DATABASE_DOWN, asyncpg.InterfaceError):
                    self.retries += 1
                    connection = None
                    await asyncio.sleep(0.2)
            await asyncio.sleep(pace)
        if connection is not None:
            await connection.close()

    @property
    def ids(self) -> set[str]:
        return set(self.bodies)


@dataclass
class Delivery:
    message_id: str
    routing_key: str
    body: str
    properties: dict[str, Any]


class CountingConsumer:
    """Records every delivery from a durable queue bound to `#` on `exchange`; acks after
    recording, so a broker restart redelivers what it had not seen acked; reconnects."""

    def __init__(self, url: str, exchange: str) -> None:
        self.url = url
        self.exchange = exchange
        self.queue = f"{exchange}.count"
        self.deliveries: list[Delivery] = []
        self.connections = 0
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _consume_once(self) -> None:
        connection = await aio_pika.connect(self.url, timeout=5)
        lost = asyncio.Event()
        connection.close_callbacks.add(lambda *_: lost.set())
        try:
            self.connections += 1
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=500)
            exchange = await channel.declare_exchange(
                self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(self.queue, durable=True)
            await queue.bind(exchange, "#")
            await queue.consume(self._record)
            self.ready.set()
            await lost.wait()
        finally:
            with contextlib.suppress(*BROKER_DOWN):
                await connection.close()

    async def _record(self, message: AbstractIncomingMessage) -> None:
        self.deliveries.append(
            Delivery(
                str(message.message_id), str(message.routing_key), message.body.decode(),
                {"delivery_mode": message.delivery_mode, "content_type": message.content_type},
            )
        )  # fmt: skip
        with contextlib.suppress(*BROKER_DOWN):
            await message.ack()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(*BROKER_DOWN):
                await self._consume_once()
            await asyncio.sleep(0.3)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.ready.wait(), 30)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def seen(self) -> set[str]:
        return {d.message_id for d in self.deliveries}


def check_deliveries(writer: Writer, deliveries: list[Delivery]) -> dict[str, int]:
    """The issue's guarantees: every message at least once, duplicates only with the same id
    and body, nothing unknown, each key's first sightings in its written order. Returns the
    counts (deliveries, distinct, duplicates)."""
    first: dict[str, list[str]] = defaultdict(list)
    seen: dict[str, Delivery] = {}
    for delivery in deliveries:
        assert delivery.message_id in writer.bodies, f"unknown message {delivery.message_id}"
        assert delivery.body == writer.bodies[delivery.message_id]
        assert delivery.routing_key == json.loads(delivery.body)["key"]
        assert delivery.properties == {"delivery_mode": 2, "content_type": "application/json"}
        if delivery.message_id in seen:
            continue
        seen[delivery.message_id] = delivery
        first[delivery.routing_key].append(delivery.message_id)
    missing = writer.ids - set(seen)
    assert not missing, f"{len(missing)} messages never arrived, e.g. {sorted(missing)[:5]}"
    for key, ids in writer.written.items():
        assert first[key] == ids, f"order of {key} not kept"
    return {
        "deliveries": len(deliveries),
        "distinct": len(seen),
        "duplicates": len(deliveries) - len(seen),
    }


async def backlog(dsn: str) -> int:
    """Rows not yet published; -1 while the database is away."""
    try:
        connection = await asyncpg.connect(dsn, timeout=3)
    except (*db.DATABASE_DOWN, asyncpg.PostgresError):
        return -1
    try:
        return await outbox.backlog(connection)
    except (*db.DATABASE_DOWN, asyncpg.PostgresError):
        return -1
    finally:
        with contextlib.suppress(*db.DATABASE_DOWN):
            await connection.close()


RelayFactory = Callable[[str, str, str], RelayProcess]
"""`relays(dsn, amqp_url, exchange)`, the fixture: a relay process, not started."""
ConsumerFactory = Callable[[str, str], CountingConsumer]
"""`consumers(amqp_url, exchange)`, the fixture: a counting consumer, not started."""

Started = Callable[..., Awaitable[tuple[CountingConsumer, RelayProcess]]]
"""`await started(dsn, amqp_url, name, **env)`, the fixture: a consumer and a relay, started."""
