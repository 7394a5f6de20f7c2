"""The fan-out benchmark's clients, in a process of their own so that the client side neither
shares the server's core nor the orchestrator's event loop.

A fleet connects its lean clients (each following one symbol and timeframe), says it is ready,
then records the sequence number and arrival time of every candle update. The orchestrator
marks the start and the end of publishing (the fleet reports its CPU use and the lateness of
its own event loop between the marks, which show whether the clients kept up), then sends the
publish times so the fleet can compute publish-to-receive latencies. `time.perf_counter` is
CLOCK_MONOTONIC, the same clock in every process of the machine."""

from __future__ import annotations

import asyncio
import os
import resource
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from lean_ws import LeanClient, open_client

_CLOSE = b'"close":"'
# How often the fleet's event loop checks its own lateness.
LAG_PROBE = 0.005


@dataclass(slots=True)
class Tally:
    """One client's updates: sequence numbers (the close price minus 1000) and arrival times."""

    symbol: str
    prefix: bytes
    seqs: array[int] = field(default_factory=lambda: array("q"))
    times: array[float] = field(default_factory=lambda: array("d"))
    foreign: int = 0

    def on_text(self, payload: bytes, now: float) -> None:
        start = payload.find(_CLOSE)
        if start < 0:
            return  # a heartbeat or a pong
        if not payload.startswith(self.prefix):
            self.foreign += 1
            return
        start += len(_CLOSE)
        self.seqs.append(int(payload[start : payload.index(b'"', start)]) - 1000)
        self.times.append(now)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _connect(
    host: str, port: int, specs: list[tuple[str, str]], tallies: list[Tally]
) -> list[LeanClient]:
    clients: list[LeanClient] = []
    for start in range(0, len(specs), 200):  # a few hundred handshakes in flight at a time
        batch = [
            open_client(host, port, path, tally.on_text)
            for (path, _), tally in zip(
                specs[start : start + 200], tallies[start : start + 200], strict=True
            )
        ]
        clients.extend(await asyncio.gather(*batch))
    return clients


async def _pace(every: float, stop: asyncio.Event) -> None:
    """Keep the event loop from sleeping in epoll: it sleeps `every` seconds at a time instead,
    then takes whatever arrived. On one machine a send to a client process asleep in epoll
    also pays, in the sender's system call, for waking that process on another core (costly
    in a virtual machine); a remote client's own machine would pay that. Arrivals are stamped
    when taken, so the latencies include the wait."""
    while not stop.is_set():
        time.sleep(every)  # noqa: ASYNC251  # blocking on purpose: no epoll waiter to wake
        await asyncio.sleep(0)


async def _lag_probe(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        due = time.perf_counter() + LAG_PROBE
        await asyncio.sleep(LAG_PROBE)
        lags.append(time.perf_counter() - due)


async def _fleet(
    pipe: Connection, host: str, port: int, specs: list[tuple[str, str]], pace: float
) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    loop.add_reader(pipe.fileno(), lambda: inbox.put_nowait(pipe.recv()))
    tallies = [Tally(symbol, f'{{"symbol":"{symbol}"'.encode()) for _, symbol in specs]
    clients = await _connect(host, port, specs, tallies)
    pipe.send(("ready", len(clients)))
    assert (await inbox.get()) == ("mark",)
    lags: list[float] = []
    probing, finished = asyncio.Event(), asyncio.Event()
    probe = asyncio.create_task(_lag_probe(lags, probing))
    pacer = asyncio.create_task(_pace(pace, finished)) if pace > 0 else None
    cpu, wall = _cpu(), time.perf_counter()
    assert (await inbox.get()) == ("mark",)
    cpu, wall = _cpu() - cpu, time.perf_counter() - wall
    probing.set()
    await probe
    command, published, updates = await inbox.get()
    assert command == "finish"
    finished.set()
    if pacer is not None:
        await pacer
    loop.remove_reader(pipe.fileno())
    os.set_blocking(pipe.fileno(), True)  # the event loop made it non-blocking; results are big
    closed_by_server = sum(client.close_code is not None for client in clients)
    for client in clients:
        client.close()
    latencies, seqs = array("d"), array("q")
    complete = foreign = 0
    for tally in tallies:
        foreign += tally.foreign
        seen = set(tally.seqs)
        complete += len(seen) >= updates and all((tally.symbol, seq) in published for seq in seen)
        for seq, now in zip(tally.seqs, tally.times, strict=True):
            if (tally.symbol, seq) in published:
                latencies.append(now - published[tally.symbol, seq])
                seqs.append(seq)
    lags.sort()
    pipe.send(
        {
            "clients": len(clients),
            "complete": complete,
            "foreign": foreign,
            "closed_by_server": closed_by_server,
            "latencies": latencies.tobytes(),
            "seqs": seqs.tobytes(),
            "cpu": cpu / wall if wall > 0 else 0.0,
            "lag_p99": lags[int(len(lags) * 0.99) - 1] if lags else 0.0,
            "lag_max": lags[-1] if lags else 0.0,
        }
    )


def main(pipe: Connection, host: str, port: int, specs: list[tuple[str, str]], pace: float) -> None:
    """A fleet process's entry point (multiprocessing spawns it). `pace`: seconds the event
    loop sleeps between looks at its sockets while updates arrive (0: it waits in epoll)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(_fleet(pipe, host, port, specs, pace))
    else:
        uvloop.run(_fleet(pipe, host, port, specs, pace))
