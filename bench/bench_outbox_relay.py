"""Outbox relay throughput: messages per second into RabbitMQ with publisher confirms, until
all are marked published, beside plain aio-pika publish loops of the same messages in the
same run.

    .venv/bin/python bench/bench_outbox_relay.py --messages 100000

A private PostgreSQL (durable: fsync on) and a private RabbitMQ are started; by default a
durable queue bound to `#` holds every message, so the broker writes the persistent messages
to disk before confirming them, as it would for a real consumer (`--no-queue`: unroutable,
dropped at once). Measured:

- relay: `python -m outbox_relay` as a process, idle and holding the lock; the N rows are
  committed in one transaction (its NOTIFY wakes the relay) and the clock runs from that
  commit until the outbox has nothing pending (every row confirmed and marked);
- plain, one at a time: `await exchange.publish(...)` per message, each confirm awaited;
- plain, windowed: the same window of unconfirmed messages as the relay (asyncio tasks);
- plain, no confirms: a channel without publisher confirms (the broker acknowledges nothing).

The queue is purged between measures. The plain loops read nothing from the database and
mark nothing: they are the bound the relay's database work is measured against."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import aio_pika
import asyncpg
from aio_pika.abc import AbstractExchange

from devstack.ports import free_port
from devstack.postgres import PostgresServer, db_env
from devstack.rabbitmq import RabbitMQServer
from linkora_core import db, outbox

Publisher = Callable[[AbstractExchange, list[outbox.Message]], Awaitable[None]]
REPO = Path(__file__).resolve().parents[1]
EXCHANGE = "bench.events"
QUEUE = "bench.count"
KEYS = [f"crypto.kline.updated.binance.spot.S{n}USDT.1m" for n in range(8)]


def messages(count: int) -> list[outbox.Message]:
    """Candle-sized JSON bodies (~250 bytes) over eight routing keys."""
    made = []
    for n in range(count):
        key = KEYS[n % len(KEYS)]
        body = json.dumps({
            "symbol": key.split(".")[5], "interval": "1m", "open_time": 1_700_000_000_000 + n,
            "open": "43210.12", "high": "43250.00", "low": "43190.55", "close": "43222.01",
            "volume": "12.345678", "quote_volume": "533456.1234", "trades": n % 1000,
        })  # fmt: skip
        made.append(outbox.Message(f"bench:{n}", key, body))
    return made


async def prepare_broker(url: str, queue: bool) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        if queue:
            declared = await channel.declare_queue(QUEUE, durable=True)
            await declared.bind(exchange, "#")
            await declared.purge()


def health(port: int) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            body: dict[str, object] = json.loads(response.read())
            return body
    except OSError:
        return None


def _start_relay(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "outbox_relay"], env=env, cwd=REPO, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


async def measure_relay(dsn: str, amqp_url: str, rows: list[outbox.Message], work: Path) -> float:
    """Seconds from the commit of `rows` until the relay has marked them all published."""
    port = free_port()
    env = {
        **os.environ, **db_env(dsn), "AMQP_URL": amqp_url, "OUTBOX_EXCHANGE": EXCHANGE,
        "METRICS_HOST": "127.0.0.1", "METRICS_PORT": str(port), "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    relay = _start_relay(env, work / "relay.log")
    try:
        deadline = time.monotonic() + 60
        while not ((found := health(port)) and found.get("active")):
            if relay.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the relay did not start (see {work / 'relay.log'})")
            await asyncio.sleep(0.1)
        connection = await asyncpg.connect(dsn)
        try:
            async with connection.transaction():
                await outbox.add(connection, rows)
            started = time.perf_counter()
            # Another process's progress, seen only in the database: polled.
            while await outbox.backlog(connection):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            return time.perf_counter() - started
        finally:
            await connection.close()
    finally:
        relay.terminate()
        relay.wait(30)


async def _plain(
    amqp_url: str,
    rows: list[outbox.Message],
    confirms: bool,
    publish_all: Publisher,
) -> float:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=confirms)
        exchange = await channel.get_exchange(EXCHANGE)
        started = time.perf_counter()
        await publish_all(exchange, rows)
        return time.perf_counter() - started


def _message(row: outbox.Message) -> aio_pika.Message:
    return aio_pika.Message(
        row.body.encode(), message_id=row.message_id, content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )  # fmt: skip


async def one_at_a_time(exchange: AbstractExchange, rows: list[outbox.Message]) -> None:
    for row in rows:
        await exchange.publish(_message(row), row.routing_key, mandatory=False)


def windowed(size: int) -> Publisher:
    """At most `size` unconfirmed, each task handing its place back when confirmed."""

    async def publish_all(exchange: AbstractExchange, rows: list[outbox.Message]) -> None:
        places = asyncio.Semaphore(size)

        async def one(row: outbox.Message) -> None:
            try:
                await exchange.publish(_message(row), row.routing_key, mandatory=False)
            finally:
                places.release()

        tasks = []
        for row in rows:
            await places.acquire()
            tasks.append(asyncio.create_task(one(row)))
        await asyncio.gather(*tasks)

    return publish_all


async def run(count: int, queue: bool, window: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="linkora-bench-relay-"))
    database = PostgresServer(durable=True)
    broker = RabbitMQServer(work / "rabbitmq")
    try:
        database.start()
        broker.start()
        pool = await db.connect_pool(database.dsn, min_size=1, max_size=1)
        await pool.close()
        rows = messages(count)
        results: list[tuple[str, float]] = []

        await prepare_broker(broker.url, queue)
        results.append(("relay (python -m outbox_relay)", await measure_relay(
            database.dsn, broker.url, rows, work
        )))  # fmt: skip
        plain = [
            ("plain, one at a time, confirms", True, one_at_a_time),
            (f"plain, window {window}, confirms", True, windowed(window)),
            # Without confirms a publish returns once written: one at a time is the loop.
            ("plain, no confirms", False, one_at_a_time),
        ]
        for name, confirms, publish_all in plain:
            await prepare_broker(broker.url, queue)
            results.append((name, await _plain(broker.url, rows, confirms, publish_all)))

        relay_rate = count / results[0][1]
        print(f"\n{count:,} messages, {'a durable queue' if queue else 'no queue'}, "
              f"window {window}:")  # fmt: skip
        for name, seconds in results:
            rate = count / seconds
            print(f"  {name:<36} {seconds:8.2f} s {rate:>10,.0f} msg/s  "
                  f"relay/this {relay_rate / rate:5.2f}")  # fmt: skip
    finally:
        broker.stop()
        database.remove()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=500, help="the relay's OUTBOX_WINDOW")
    parser.add_argument("--no-queue", action="store_true", help="no queue bound: dropped")
    args = parser.parse_args()
    # The relay runs on uvloop (linkora_core.lifecycle); the plain loops get the same loop.
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args.messages, not args.no_queue, args.window))
    else:
        uvloop.run(run(args.messages, not args.no_queue, args.window))


if __name__ == "__main__":
    main()
