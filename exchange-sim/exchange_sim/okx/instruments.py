"""OKX instruments served by the simulator and the series behind them (pure).

Every simulator symbol `BTCUSDT` is listed twice: spot `BTC-USDT` and the USDT-margined
perpetual `BTC-USDT-SWAP`, both backed by the `BTCUSDT` series. Swap sizes count contracts
of `ctVal` base units each; ctVal is a power of ten picked from the start price, so base
amounts and contract counts convert exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from exchange_sim.config import SymbolSpec, spec_for

SPOT, SWAP = "SPOT", "SWAP"
SERVED = (SPOT, SWAP)
KNOWN_TYPES = (SPOT, "MARGIN", SWAP, "FUTURES", "OPTION")

# (lowest start price, ctVal): BTC 0.01, ETH 0.1, SOL 1, XRP 100, DOGE 1000 as on OKX.
_CONTRACT_SIZES = (
    (Decimal(10_000), "0.01"),
    (Decimal(1_000), "0.1"),
    (Decimal(10), "1"),
    (Decimal(1), "10"),
    (Decimal("0.1"), "100"),
)


@dataclass(frozen=True, slots=True)
class Instrument:
    inst_id: str  # "BTC-USDT" or "BTC-USDT-SWAP"
    inst_type: str  # SPOT or SWAP
    spec: SymbolSpec  # the simulator series it serves

    @property
    def symbol(self) -> str:
        return self.spec.symbol

    @property
    def swap(self) -> bool:
        return self.inst_type == SWAP

    @property
    def ct_val(self) -> str:
        """Base units per contract ("" for spot, as OKX sends it)."""
        if not self.swap:
            return ""
        price = Decimal(self.spec.start_price)
        return next((v for low, v in _CONTRACT_SIZES if price >= low), "1000")


def spot_id(spec: SymbolSpec) -> str:
    return f"{spec.base_asset}-{spec.quote_asset}"


def listed(symbols: Iterable[str], inst_type: str) -> list[Instrument]:
    """The instruments of one type, in the simulator's symbol order."""
    if inst_type not in SERVED:
        return []
    out = []
    for symbol in symbols:
        spec = spec_for(symbol)
        suffix = "-SWAP" if inst_type == SWAP else ""
        out.append(Instrument(spot_id(spec) + suffix, inst_type, spec))
    return out


def lookup(inst_id: str, symbols: Iterable[str]) -> Instrument | None:
    for inst_type in SERVED:
        for inst in listed(symbols, inst_type):
            if inst.inst_id == inst_id:
                return inst
    return None
