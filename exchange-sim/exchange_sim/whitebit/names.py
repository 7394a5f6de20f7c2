"""WhiteBIT market ids (`BTC_USDT`) for the simulator's symbols (`BTCUSDT`) (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from exchange_sim.config import spec_for


def market_id(symbol: str) -> str:
    """ "BTCUSDT" -> "BTC_USDT"."""
    spec = spec_for(symbol)
    return f"{spec.base_asset}_{spec.quote_asset}"


def markets(symbols: Iterable[str]) -> dict[str, str]:
    """WhiteBIT market id -> simulator symbol, in the simulator's order."""
    return {market_id(s): s for s in symbols}
