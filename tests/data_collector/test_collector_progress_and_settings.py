"""Backfill progress accounting and the collector's settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from data_collector.progress import Progress
from data_collector.settings import CollectorSettings, RealtimeMode
from linkora_core.markets import BINANCE_SPOT, Market


def test_progress_reports_done_total_rate_and_eta() -> None:
    progress = Progress(Market(BINANCE_SPOT, "BTCUSDT"))
    progress.start(total=10_000, done=1000, now=100.0)
    progress.advance(minutes=1000, rows=1000, now=101.0)
    progress.advance(minutes=1000, rows=1000, now=102.0)
    assert progress.done == 3000
    assert progress.rate == 1000.0
    assert progress.eta_seconds == 7.0
    assert progress.describe() == ("BTCUSDT: 3000/10000 minutes (30.0%), 1000 candles/s, ETA 7s")


def test_progress_without_a_rate_has_no_eta() -> None:
    progress = Progress(Market(BINANCE_SPOT, "ETHUSDT"))
    progress.start(total=10, done=0, now=0.0)
    assert progress.eta_seconds is None


def test_settings_defaults_match_binance(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SYMBOLS", "START_DATE", "BINANCE_BASE_URL", "REALTIME_MODE"):
        monkeypatch.delenv(name, raising=False)
    settings = CollectorSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.binance_base_url == "https://api.binance.com"
    assert settings.binance_stream_url == "wss://stream.binance.com:9443"
    assert settings.symbols == ["BTCUSDT", "ETHUSDT"]
    assert settings.orderbook_levels == 20
    assert settings.realtime_mode is RealtimeMode.WS
    assert settings.weight_budget_fraction == 0.8


def test_settings_read_symbols_and_start_date_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYMBOLS", "btcusdt, SOLUSDT,btcusdt")
    monkeypatch.setenv("START_DATE", "2024-03-01")
    monkeypatch.setenv("ORDERBOOK_LEVELS", "5")
    settings = CollectorSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.symbols == ["BTCUSDT", "SOLUSDT"]
    assert settings.start_date == datetime(2024, 3, 1, tzinfo=UTC)
    assert settings.start_ms == 1709251200000
    assert settings.orderbook_levels == 5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORDERBOOK_LEVELS", "7"),
        ("SYMBOLS", "BTC-USDT"),
        ("REALTIME_MODE", "carrier-pigeon"),
        ("WEIGHT_BUDGET_FRACTION", "1.5"),
    ],
)
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name.lower()):
        CollectorSettings(_env_file=None)  # type: ignore[call-arg]
