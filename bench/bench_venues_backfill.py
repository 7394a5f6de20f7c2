"""Backfill benchmark of every exchange: Binance spot, Bybit linear, OKX spot and WhiteBIT spot,
N symbols x D days each, all markets at once, from one simulator into PostgreSQL.

    python bench/bench_venues_backfill.py                          # 4 x 5 symbols x 365 days
    python bench/bench_venues_backfill.py --symbols 2 --days 7
    python bench/bench_venues_backfill.py --binding                # limits low: 4 x 5 x 30 days

Runs `python -m exchange_sim` as its own process (every exchange on one port, as devstack's
offline mode does), backfills the 4 x N markets concurrently with the collector's own code
(`adapters.rest_sources`, `Collector.backfill_all`) into a fresh database, and prints per
exchange the minutes stored, the seconds until its last page was stored and its candles/s;
the total; then a plain COPY of the very same rows (the `venue` column included) into the
emptied table, and the ratio. The simulator keeps each exchange's documented limits unless
`--binding`, which sets every limit low and the collector's budget to it (at the collector's
fraction), and prints how much of each budget the backfill used and the rejections seen.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from backfill_support import days_ago, print_copy_baselines, start_sim
from cpu_use import own_cpu, process_cpu

from data_collector import adapters, bybit_rest, okx_rest, whitebit_rest
from data_collector.bybit_rest import BYBIT_LINEAR, BybitRest
from data_collector.collector import Collector
from data_collector.exchange import ExchangeRest
from data_collector.publisher import Publisher
from data_collector.request_budget import SlidingBudget
from data_collector.rest import KLINE_WEIGHT, BinanceRest
from data_collector.settings import CollectorSettings
from data_collector.weights import WINDOW_SECONDS, WeightBudget
from data_collector.whitebit_payloads import WHITEBIT_SPOT
from data_collector.whitebit_rest import WhitebitRest
from exchange_sim.config import KNOWN
from linkora_core import bus, db
from linkora_core.markets import BINANCE_SPOT, Exchange, Kind, Venue

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "linkora_bench_venues"
OKX_SPOT = Venue(Exchange.OKX, Kind.SPOT)
BINDING_DAYS = 30  # --binding's default span: every budget binds for minutes, not an hour
SAMPLE_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class Limit:
    """One exchange's request limit as the simulator applies it: `limit` per `window`
    seconds (Binance: request weight per wall-clock minute)."""

    limit: int
    window: float


@dataclass(eq=False)
class MinuteLog(WeightBudget):
    """The collector's Binance budget, noting the weight it lets go in each wall-clock
    minute (its windows), for the benchmark's use figures."""

    by_minute: Counter[int] = field(default_factory=Counter, init=False)

    def delay(self, weight: int, now: float) -> float:
        wait = super().delay(weight, now)
        if wait == 0:
            self.by_minute[self.window_of(now)] += weight
        return wait


@dataclass(frozen=True, slots=True)
class Binding:
    """The low limits of --binding. Each lets the exchange serve 1,000-1,650 candles/s at the
    collector's 80%, far below what the pipeline stores, so the budget is what binds; 5
    symbols x 30 days take 2-2.5 minutes a venue, Binance's 3.7 (several whole minutes,
    its windows)."""

    binance: Limit = Limit(150, WINDOW_SECONDS)  # weight: 60 klines a minute
    bybit: Limit = Limit(10, 5.0)
    okx_history: Limit = Limit(14, 2.0)  # history-candles, nearly every page of a backfill
    okx_candles: Limit = Limit(14, 2.0)  # candles, the newest day
    whitebit: Limit = Limit(14, 10.0)  # kline; the collector's one budget covers every call

    def sim_flags(self) -> list[str]:
        return [
            "--weight-limit", str(self.binance.limit),
            "--bybit-ip-limit", str(self.bybit.limit),
            "--bybit-ip-window", str(self.bybit.window),
            "--okx-limit", f"history-candles={self.okx_history.limit}",
            "--okx-limit", f"candles={self.okx_candles.limit}",
            "--okx-window", str(self.okx_history.window),
            "--whitebit-kline-limit", str(self.whitebit.limit),
            "--whitebit-window", str(self.whitebit.window),
        ]  # fmt: skip

    def sources(
        self, settings: CollectorSettings, session: aiohttp.ClientSession
    ) -> dict[Venue, ExchangeRest]:
        """The collector's sources with budgets of these limits, at its own fraction."""
        s, fraction = settings, settings.weight_budget_fraction
        okx_limits = dict(okx_rest.DOCUMENTED_LIMITS)
        okx_limits[okx_rest.HISTORY] = self.okx_history.limit
        okx_limits[okx_rest.CANDLES] = self.okx_candles.limit
        okx_budgets = okx_rest.OkxBudgets(okx_limits, self.okx_history.window, fraction)
        return {
            BINANCE_SPOT: BinanceRest(
                session, s.binance_base_url, MinuteLog(self.binance.limit, fraction)
            ),
            BYBIT_LINEAR: BybitRest(
                BYBIT_LINEAR,
                session,
                s.bybit_base_url,
                SlidingBudget(self.bybit.limit, self.bybit.window, fraction),
            ),
            OKX_SPOT: okx_rest.make_rest(s, session, OKX_SPOT, okx_budgets),
            WHITEBIT_SPOT: WhitebitRest(
                session,
                s.whitebit_base_url,
                SlidingBudget(self.whitebit.limit, self.whitebit.window, fraction),
            ),
        }

    def of(self, venue: Venue) -> Limit:
        return {
            BINANCE_SPOT: self.binance,
            BYBIT_LINEAR: self.bybit,
            OKX_SPOT: self.okx_history,
            WHITEBIT_SPOT: self.whitebit,
        }[venue]


def market_names(symbol: str) -> dict[Venue, str]:
    """`BTCUSDT` as each benchmarked venue spells it."""
    base = symbol.removesuffix("USDT")
    return {
        BINANCE_SPOT: symbol,
        BYBIT_LINEAR: symbol,
        OKX_SPOT: f"{base}-USDT",
        WHITEBIT_SPOT: f"{base}_USDT",
    }


VENUES = tuple(market_names("BTCUSDT"))


def markets_setting(symbols: list[str]) -> str:
    """MARKETS for the venues other than Binance spot (which SYMBOLS names)."""
    return ",".join(
        f"{venue.exchange}:{venue.kind}:{names[venue]}"
        for venue in VENUES[1:]
        for names in map(market_names, symbols)
    )


async def sim_counts(http: aiohttp.ClientSession, address: str) -> dict[str, Any]:
    """The simulator's request counts by path, HTTP statuses and OKX's and WhiteBIT's
    rejections by endpoint."""
    out: dict[str, Any] = {}
    for name, path in (("sim", "/_sim/stats"), ("okx", "/_sim/okx/stats"),
                       ("whitebit", "/_sim/whitebit/stats")):  # fmt: skip
        async with http.get(f"http://{address}{path}") as response:
            out[name] = await response.json()
    return out


def sim_rejections(counts: Mapping[str, Any]) -> dict[Venue, int]:
    """Rejections the simulator answered, per exchange. Binance's 429/418 are the statuses'
    429s and 418s less OKX's and WhiteBIT's (which answer 429 too); Bybit alone answers 403."""
    statuses = counts["sim"]["statuses"]
    okx = sum(counts["okx"]["rejected"].values())
    whitebit = sum(counts["whitebit"]["rejected"].values())
    binance = statuses.get("429", 0) + statuses.get("418", 0) - okx - whitebit
    return {
        BINANCE_SPOT: binance,
        BYBIT_LINEAR: statuses.get("403", 0),
        OKX_SPOT: okx,
        WHITEBIT_SPOT: whitebit,
    }


def sent(rest: ExchangeRest, counts: Mapping[str, Any]) -> int:
    """What the exchange's binding limit counts: Binance weight; OKX history-candles
    requests (as the simulator received them); otherwise every request of the budget."""
    if isinstance(rest, BinanceRest):
        return rest.weight_sent
    if isinstance(rest, okx_rest.OkxRest):
        return int(counts["sim"]["requests"].get(okx_rest.HISTORY, 0))
    return rest.requests


def ceiling(rest: ExchangeRest, limit: Limit, fraction: float) -> float:
    """Candles/s the budget allows at full pages."""
    allowance = max(1, int(limit.limit * fraction))
    per_request = KLINE_WEIGHT if isinstance(rest, BinanceRest) else 1
    return allowance / per_request * rest.page_minutes / limit.window


def documented(venue: Venue) -> Limit:
    """The limit the collector paces each exchange's kline calls on by default, the
    simulator's default too (each exchange's documented figure)."""
    return {
        BINANCE_SPOT: Limit(6000, WINDOW_SECONDS),
        BYBIT_LINEAR: Limit(bybit_rest.IP_LIMIT, bybit_rest.IP_WINDOW),
        OKX_SPOT: Limit(okx_rest.DOCUMENTED_LIMITS[okx_rest.HISTORY], okx_rest.WINDOW_SECONDS),
        WHITEBIT_SPOT: Limit(whitebit_rest.REQUESTS_PER_WINDOW, whitebit_rest.WINDOW_SECONDS),
    }[venue]


async def sample_stored(
    collector: Collector, started: float, samples: list[tuple[float, int]]
) -> None:
    """(seconds since `started`, candles stored by the backfill so far), every SAMPLE_SECONDS."""
    while True:
        progress = [collector.status.of(m).progress for m in collector.markets]
        stored = sum(p.stored for p in progress if p is not None)
        samples.append((time.monotonic() - started, stored))
        await asyncio.sleep(SAMPLE_SECONDS)


async def run(args: argparse.Namespace) -> None:
    symbols = list(KNOWN)[: args.symbols]
    days = args.days if args.days is not None else BINDING_DAYS if args.binding else 365
    start = days_ago(days)
    binding = Binding() if args.binding else None
    dsn = await db.recreate_database(args.dsn, BENCH_DB)
    pool = await db.connect_pool(dsn, min_size=2, max_size=args.writers + 2)
    sim, address = start_sim(symbols, start, binding.sim_flags() if binding else [])
    redis = bus.connect("redis://127.0.0.1:1/0")  # never used: the backfill publishes nothing
    url = f"http://{address}"
    try:
        settings = CollectorSettings(
            _env_file=None,  # type: ignore[call-arg]
            binance_base_url=url,
            bybit_base_url=url,
            okx_base_url=url,
            whitebit_base_url=url,
            symbols=",".join(symbols),  # type: ignore[arg-type]
            markets=markets_setting(symbols),  # type: ignore[arg-type]
            start_date=start,  # type: ignore[arg-type]
            backfill_concurrency=args.concurrency,
            backfill_batch_rows=args.batch_rows,
            backfill_writers=args.writers,
        )
        async with aiohttp.ClientSession() as session:
            sources = (
                binding.sources(settings, session)
                if binding
                else adapters.rest_sources(settings, session, VENUES)
            )
            collector = Collector(settings, pool, sources, session, Publisher(redis))
            await collector.prepare()
            before = await sim_counts(session, address)
            sent_before = {v: sent(rest, before) for v, rest in sources.items()}
            cpu_before = own_cpu(), process_cpu(sim.pid)
            started, wall_started = time.monotonic(), time.time()
            samples: list[tuple[float, int]] = []
            sampler = asyncio.create_task(sample_stored(collector, started, samples))
            try:
                await collector.backfill_all()
            finally:
                sampler.cancel()
            elapsed = time.monotonic() - started
            cpu = own_cpu() - cpu_before[0], process_cpu(sim.pid) - cpu_before[1]
            after = await sim_counts(session, address)
        stored = {
            row["venue"]: int(row["n"])
            for row in await pool.fetch("SELECT venue, count(*) AS n FROM candles GROUP BY venue")
        }
        rows = sum(stored.values())
        fraction = settings.weight_budget_fraction
        refused_before, refused_after = sim_rejections(before), sim_rejections(after)
        print(
            f"{len(symbols)} symbols x {days} days on {len(VENUES)} exchanges, "
            f"{'limits set low (--binding)' if binding else 'documented limits'}, "
            f"budgets at {fraction:.0%}"
        )
        print(
            f"{'exchange':<14} {'minutes':>10} {'seconds':>8} {'candles/s':>10} "
            f"{'limit lets':>10} {'requests':>8} {'sim rejected':>12} {'budget rejections':>17}"
        )
        seconds: dict[Venue, float] = {}
        for venue in VENUES:
            rest = sources[venue]
            progress = [
                p for m in collector.markets if m.venue == venue
                if (p := collector.status.of(m).progress) is not None
            ]  # fmt: skip
            seconds[venue] = max((p.updated_at for p in progress), default=started) - started
            count = stored.get(venue.key, 0)
            limit = binding.of(venue) if binding else documented(venue)
            print(
                f"{venue.key:<14} {count:>10,} {seconds[venue]:>8.1f} "
                f"{count / max(seconds[venue], 1e-9):>10,.0f} "
                f"{ceiling(rest, limit, fraction):>10,.0f} {rest.requests:>8,} "
                f"{refused_after[venue] - refused_before[venue]:>12} "
                f"{rest.budget.rejections:>17}"
            )
        for market in collector.markets:
            status = collector.status.of(market)
            if status.phase == "error":
                print(f"NOT BACKFILLED: {market}: {status.error}")
        total_rate = rows / elapsed
        print(f"{'total':<14} {rows:>10,} {elapsed:>8.1f} {total_rate:>10,.0f}")
        # The first sample once an exchange's last page was stored: the pair (seconds,
        # candles) spans the time all of them were backfilling, give or take a sample.
        first = min(seconds.values())
        at, together = next(((t, n) for t, n in samples if t >= first), (elapsed, rows))
        together_rate = together / at if at > 0 else 0.0
        print(
            f"while all {len(VENUES)} backfilled (until the first finished, sampled every "
            f"{SAMPLE_SECONDS:g}s): {together:,} candles in {at:.1f}s = "
            f"{together_rate:,.0f} candles/s"
        )
        print(
            f"CPU during the backfill: bench process (collector) {cpu[0]:.1f}s, "
            f"simulator {cpu[1]:.1f}s, over {elapsed:.1f}s (2 cores shared with PostgreSQL)"
        )
        if binding:
            print_use(binding, sources, after, sent_before, seconds, wall_started, fraction)
        await print_copy_baselines(
            pool, rows, {"total": total_rate, f"while all {len(VENUES)} ran": together_rate}
        )
    finally:
        sim.terminate()
        sim.wait(10)
        await redis.aclose()
        await pool.close()


def print_use(
    binding: Binding,
    sources: Mapping[Venue, ExchangeRest],
    after: Mapping[str, Any],
    sent_before: Mapping[Venue, int],
    seconds: Mapping[Venue, float],
    wall_started: float,
    fraction: float,
) -> None:
    """Per exchange: what its binding limit counted, the budget's capacity over the
    exchange's backfill (allowance x seconds / window) and the use ratio; and the most the
    budget could have sent in that time (`most`), with the share of it used."""
    print(
        f"{'budget use':<14} {'limit':>14} {'allowance':>9} {'sent':>7} {'capacity':>9} "
        f"{'use':>5} {'most':>7} {'of most':>7}"
    )
    for venue in VENUES:
        rest, limit = sources[venue], binding.of(venue)
        allowance = max(1, int(limit.limit * fraction))
        used = sent(rest, after) - sent_before[venue]
        capacity = allowance * seconds[venue] / limit.window
        budget = rest.budget
        if isinstance(budget, MinuteLog):  # wall-clock minutes: each one touched, whole
            first = int(wall_started // limit.window)
            last = int((wall_started + seconds[venue]) // limit.window)
            most = allowance * (last - first + 1)
            inside = [budget.by_minute[m] for m in range(first + 1, last)]
            minutes = ", ".join(f"{w}" for w in inside) or "none"
            extra = f"   weight in each whole minute of the run: {minutes} (of {allowance})"
        else:  # a full allowance at once, then one a window
            most = int(allowance * (1 + seconds[venue] / limit.window))
            extra = ""
        unit = "weight" if isinstance(rest, BinanceRest) else "req"
        print(
            f"{venue.key:<14} {f'{limit.limit} {unit}/{limit.window:g}s':>14} {allowance:>9} "
            f"{used:>7,} {capacity:>9,.0f} {used / max(capacity, 1e-9):>5.2f} {most:>7,} "
            f"{used / most:>7.2f}{extra}"
        )
    print(
        "use = sent / capacity, capacity = allowance (limit x fraction) x seconds / window "
        "(above 1 in short runs: a budget sends its whole allowance at once); most = what "
        "the budget could have sent in those seconds at all (sliding: one allowance at once "
        "and one a window after; Binance: one in each wall-clock minute touched), of which "
        "the last window is rarely needed whole. OKX counts history-candles only."
    )


def main() -> None:
    # The collector's warnings and errors (retries, rate limits, a market given up) with
    # their times, on stderr beside the figures.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=5, help="symbols per exchange (max 11)")
    parser.add_argument(
        "--days", type=int, default=None, help=f"default 365, or {BINDING_DAYS} with --binding"
    )
    parser.add_argument("--dsn", default=os.environ.get("LINKORA_BENCH_PG_DSN", DEFAULT_DSN))
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight per market")
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--writers", type=int, default=2, help="database writers in parallel")
    parser.add_argument(
        "--binding", action="store_true", help="limits set low; print each budget's use"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
