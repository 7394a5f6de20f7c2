"""python -m exchange_sim --port 9100 --symbols BTCUSDT,ETHUSDT --start 2024-01-01 --seed 1"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from exchange_sim.config import SimConfig, parse_day
from exchange_sim.faults import FaultSettings
from exchange_sim.okx import DOCUMENTED_LIMITS
from exchange_sim.server import SimServer

OKX_ENDPOINTS = tuple(path.rsplit("/", 1)[1] for path in DOCUMENTED_LIMITS)


def parse_args(argv: list[str] | None = None) -> tuple[bool, SimConfig]:
    p = argparse.ArgumentParser(prog="exchange_sim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100)
    p.add_argument(
        "--symbols", default="BTCUSDT,ETHUSDT", help="generated symbols, comma-separated"
    )
    p.add_argument("--start", default="2024-01-01", help="first generated day, UTC")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--replay", type=Path, action="append", default=[], help="<SYMBOL>_1m.csv")
    p.add_argument("--replay-align-now", action="store_true", help="end replayed data now")
    p.add_argument("--weight-limit", type=int, default=6000)
    p.add_argument("--ban-seconds", type=float, default=120.0, help="first 418 ban")
    p.add_argument(
        "--tolerated-in-window",
        type=int,
        default=8,
        help="requests inside a Retry-After window answered 429 again before a 418 ban",
    )
    p.add_argument("--bybit-ip-limit", type=int, default=600, help="Bybit requests per window")
    p.add_argument("--bybit-ip-window", type=float, default=5.0, help="Bybit's window, seconds")
    p.add_argument("--bybit-ban-seconds", type=float, default=600.0, help="Bybit's 403 ban")
    p.add_argument(
        "--okx-limit",
        action="append",
        default=[],
        metavar="ENDPOINT=N",
        help="an OKX per-IP limit instead of the documented one, e.g. history-candles=5",
    )
    p.add_argument("--okx-window", type=float, default=2.0, help="OKX's window, seconds")
    p.add_argument("--whitebit-kline-limit", type=int, default=1000)
    p.add_argument("--whitebit-public-limit", type=int, default=2000, help="time, markets, ...")
    p.add_argument("--whitebit-window", type=float, default=10.0, help="WhiteBIT's window, s")
    p.add_argument("--kline-push-interval", type=float, default=2.0)
    p.add_argument("--depth-push-interval", type=float, default=None)
    p.add_argument("--ping-interval", type=float, default=20.0)
    p.add_argument("--max-connection-seconds", type=float, default=24 * 3600.0)
    p.add_argument("--zero-trade-ppm", type=int, default=2000, help="zero-trade minutes per 1e6")
    p.add_argument("--gap-hour-ppm", type=int, default=0, help="missing hours per 1e6")
    p.add_argument("--prewarm", action="store_true", help="build every day's cache first")
    p.add_argument("--clock-speed", type=float, default=1.0)
    p.add_argument("--error-rate", type=float, default=0.0, help="share of REST 5xx")
    p.add_argument("--stall-rate", type=float, default=0.0)
    p.add_argument("--stall-seconds", type=float, default=0.0)
    a = p.parse_args(argv)
    try:
        parse_day(a.start)
    except ValueError:
        p.error(f"--start must be YYYY-MM-DD, got {a.start!r}")
    for path in a.replay:
        if not path.is_file():
            p.error(f"--replay file not found: {path}")
    okx_limits = []
    for item in a.okx_limit:
        name, _, count = item.partition("=")
        if name not in OKX_ENDPOINTS or not count.isdigit() or int(count) < 1:
            p.error(f"--okx-limit must be one of {', '.join(OKX_ENDPOINTS)}=N, got {item!r}")
        okx_limits.append((name, int(count)))
    return a.prewarm, SimConfig(
        host=a.host,
        port=a.port,
        symbols=tuple(s.strip().upper() for s in a.symbols.split(",") if s.strip()),
        start=a.start,
        seed=a.seed,
        replay=tuple(a.replay),
        replay_align_now=a.replay_align_now,
        weight_limit=a.weight_limit,
        bybit_ip_limit=a.bybit_ip_limit,
        bybit_ip_window_seconds=a.bybit_ip_window,
        bybit_ban_seconds=a.bybit_ban_seconds,
        okx_limits=tuple(okx_limits),
        okx_window_seconds=a.okx_window,
        whitebit_kline_limit=a.whitebit_kline_limit,
        whitebit_public_limit=a.whitebit_public_limit,
        whitebit_window_seconds=a.whitebit_window,
        ban_base_seconds=a.ban_seconds,
        tolerated_in_window=a.tolerated_in_window,
        kline_push_interval=a.kline_push_interval,
        depth_push_interval=a.depth_push_interval,
        ping_interval=a.ping_interval,
        max_connection_seconds=a.max_connection_seconds,
        zero_trade_ppm=a.zero_trade_ppm,
        gap_hour_ppm=a.gap_hour_ppm,
        clock_speed=a.clock_speed,
        faults=FaultSettings(
            error_rate=a.error_rate, stall_rate=a.stall_rate, stall_seconds=a.stall_seconds
        ),
    )


async def serve(config: SimConfig, prewarm: bool = False) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with SimServer(config) as sim:
        if prewarm:
            print(f"prewarmed {await sim.source.prewarm()} day chunks", flush=True)
        print(f"BINANCE_BASE_URL={sim.rest_url}", flush=True)
        print(f"BINANCE_STREAM_URL={sim.stream_url}", flush=True)
        print(f"symbols: {','.join(sim.source.symbols)}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    prewarm, config = parse_args(argv)
    asyncio.run(serve(config, prewarm))


if __name__ == "__main__":
    main()
