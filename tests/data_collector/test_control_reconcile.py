"""The collector's reconcile logic (pure): desired markets against those running, the venues
whose real-time tasks restart, the runtime settings that changed, and the progress reports of a
backfill."""

from __future__ import annotations

from data_collector import control_reconcile as rc
from data_collector import progress_reports
from data_collector.progress import Progress
from linkora_core import progress_messages
from linkora_core.markets import BINANCE_SPOT, Exchange, Kind, Market, Venue

BYBIT_LINEAR = Venue(Exchange.BYBIT, Kind.LINEAR)
OKX_SPOT = Venue(Exchange.OKX, Kind.SPOT)
BTC = Market(BINANCE_SPOT, "BTCUSDT")
ETH = Market(BINANCE_SPOT, "ETHUSDT")
BYBIT_BTC = Market(BYBIT_LINEAR, "BTCUSDT")
OKX_BTC = Market(OKX_SPOT, "BTC-USDT")
DAY_MS = 86_400_000


def test_nothing_changes_when_the_desired_state_is_what_runs() -> None:
    running = {BTC: None, BYBIT_BTC: 5 * DAY_MS}
    changes = rc.market_changes(dict(running), running)
    assert not changes
    assert changes == rc.MarketChanges((), ())


def test_markets_desired_are_added_and_those_no_longer_desired_removed_in_order() -> None:
    running = {BTC: None, ETH: None, BYBIT_BTC: None}
    desired = {BTC: None, OKX_BTC: None, Market(OKX_SPOT, "ETH-USDT"): DAY_MS}
    changes = rc.market_changes(desired, running)
    assert changes.to_add == (OKX_BTC, Market(OKX_SPOT, "ETH-USDT"))
    assert changes.to_remove == (ETH, BYBIT_BTC)
    assert rc.market_changes({}, running).to_remove == (BTC, ETH, BYBIT_BTC)
    assert rc.market_changes(desired, {}).to_add == tuple(desired)


def test_a_market_whose_start_changed_is_removed_and_added_again() -> None:
    changes = rc.market_changes({BTC: 2 * DAY_MS, ETH: None}, {BTC: None, ETH: None})
    assert changes == rc.MarketChanges((BTC,), (BTC,))
    assert rc.market_changes({BTC: None}, {BTC: DAY_MS}) == rc.MarketChanges((BTC,), (BTC,))


def test_only_venues_whose_markets_in_real_time_changed_restart() -> None:
    covered = {BINANCE_SPOT: frozenset({BTC}), BYBIT_LINEAR: frozenset({BYBIT_BTC})}
    # ETH joined Binance spot: Binance restarts, Bybit is left alone.
    assert rc.venues_to_restart(covered, [BTC, ETH, BYBIT_BTC]) == [BINANCE_SPOT]
    # Bybit's only market left: Bybit is stopped (restarted with nothing).
    assert rc.venues_to_restart(covered, [BTC]) == [BYBIT_LINEAR]
    # A venue never started comes up; one unchanged is left alone.
    assert rc.venues_to_restart(covered, [BTC, BYBIT_BTC, OKX_BTC]) == [OKX_SPOT]
    assert rc.venues_to_restart(covered, [BYBIT_BTC, BTC]) == []
    # Before real time started nothing is covered: every venue in real time starts.
    assert rc.venues_to_restart({}, [OKX_BTC, BTC, BYBIT_BTC]) == sorted(
        [BINANCE_SPOT, BYBIT_LINEAR, OKX_SPOT]
    )
    assert rc.venues_to_restart({}, []) == []


ENVIRONMENT = rc.Tunables(orderbook_levels=20, orderbook_store_interval=1.0, audit_interval=3600)


def test_runtime_settings_replace_the_environment_s_and_the_api_server_s_are_ignored() -> None:
    assert rc.tunables(ENVIRONMENT, {}) == ENVIRONMENT
    runtime = {"orderbook_levels": 50, "audit_interval": 0.0, "ws_update_interval": 0.5}
    applied = rc.tunables(ENVIRONMENT, runtime)
    assert applied == rc.Tunables(50, 1.0, 0.0)
    assert rc.changed(ENVIRONMENT, applied) == {"orderbook_levels", "audit_interval"}
    assert rc.changed(applied, applied) == set()
    assert rc.changed(ENVIRONMENT, rc.tunables(ENVIRONMENT, {"orderbook_store_interval": 0.25}))
    assert rc.changed(ENVIRONMENT, rc.tunables(ENVIRONMENT, {"ws_update_interval": 9})) == set()


def progress(done: int, total: int) -> Progress:
    tracked = Progress(BYBIT_BTC, from_ms=1_796_083_200_000)  # 2026-12-01T00:00Z
    tracked.start(total=total, done=0, now=100.0)
    tracked.advance(done, done, now=110.0)  # a candle per minute, in 10 s
    return tracked


def test_a_backfill_is_reported_running_then_done_with_exact_figures() -> None:
    running = progress_reports.running(progress(400, 1000))
    assert progress_messages.payload(running) == {
        "exchange": "bybit",
        "kind": "linear",
        "symbol": "BTCUSDT",
        "market": "bybit:linear:BTCUSDT",
        "status": "running",
        "message": "backfilling from 2026-12-01 00:00 UTC",
        "percent": "40.0",
        "done": 400,
        "total": 1000,
        "rate": 40,
        "eta_seconds": 15,
    }
    finished = progress_reports.done(progress(997, 1000))
    assert (finished.status, finished.done, finished.total, finished.eta_seconds) == (
        "done", 1000, 1000, 0,
    )  # fmt: skip
    assert finished.percent == 100
    assert progress_messages.decode(progress_messages.encode(finished)) == finished


def test_a_backfill_ended_otherwise_keeps_what_it_had_covered() -> None:
    removed = progress_reports.ended(BYBIT_BTC, progress(250, 1000), "removed", "gone")
    assert (removed.status, removed.message, removed.done, removed.total) == (
        "removed", "gone", 250, 1000,
    )  # fmt: skip
    never = progress_reports.ended(BTC, None, "error", "HTTP 400 (code -1121): Invalid symbol")
    assert (never.done, never.total, never.rate, never.eta_seconds) == (0, 0, 0, None)
    assert progress_messages.payload(never)["market"] == "binance:spot:BTCUSDT"
