"""Markets: which exchange, which kind of market on it, which of its symbols (pure).

A *venue* is an exchange's market kind, named as the exchange names it (Binance `spot` and
`usdm` for USDⓈ-M futures, Bybit `spot` and `linear`, OKX `spot` and `swap`, WhiteBIT `spot`);
its key, `binance-spot`, is what the market tables' `venue` column holds (migration 0013).
A *market* is a venue and a symbol in the exchange's own spelling (`BTCUSDT`, `BTC-USDT-SWAP`,
`BTC_USDT`), written `exchange:kind:SYMBOL` in settings; a bare symbol is Binance spot, which is
all the platform collected before and what clients that name no exchange keep getting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

__all__ = [
    "BINANCE_SPOT",
    "VENUES",
    "Exchange",
    "Kind",
    "Market",
    "Venue",
    "parse_market",
    "parse_symbol",
    "venue",
    "venue_of_key",
]


class Exchange(StrEnum):
    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"
    WHITEBIT = "whitebit"


class Kind(StrEnum):
    SPOT = "spot"
    USDM = "usdm"  # Binance USDⓈ-M futures
    LINEAR = "linear"  # Bybit USDT and USDC contracts
    SWAP = "swap"  # OKX perpetual swaps


@dataclass(frozen=True, slots=True, order=True)
class Venue:
    exchange: Exchange
    kind: Kind

    @property
    def key(self) -> str:
        """The `venue` column's value: `binance-spot`."""
        return f"{self.exchange.value}-{self.kind.value}"

    def __str__(self) -> str:
        return self.key


BINANCE_SPOT: Final = Venue(Exchange.BINANCE, Kind.SPOT)
VENUES: Final = (
    BINANCE_SPOT,
    Venue(Exchange.BINANCE, Kind.USDM),
    Venue(Exchange.BYBIT, Kind.SPOT),
    Venue(Exchange.BYBIT, Kind.LINEAR),
    Venue(Exchange.OKX, Kind.SPOT),
    Venue(Exchange.OKX, Kind.SWAP),
    Venue(Exchange.WHITEBIT, Kind.SPOT),
)
_BY_KEY: Final = {v.key: v for v in VENUES}
# Letters and digits, with the `-` of OKX and the `_` of WhiteBIT and of Binance's delivery
# contracts between them; the same rule as the tables' CHECK (migration 0013).
_SYMBOL: Final = re.compile(r"[A-Z0-9](?:[A-Z0-9_-]{0,30}[A-Z0-9])")


@dataclass(frozen=True, slots=True, order=True)
class Market:
    venue: Venue
    symbol: str

    def __str__(self) -> str:
        return self.symbol if self.venue == BINANCE_SPOT else self.qualified

    @property
    def qualified(self) -> str:
        """`exchange:kind:SYMBOL`, Binance spot's too (`binance:spot:BTCUSDT`)."""
        return f"{self.venue.exchange}:{self.venue.kind}:{self.symbol}"

    def names(self) -> dict[str, str]:
        """How messages about one market name it: exchange, kind, symbol and the qualified
        name (`market`)."""
        venue = self.venue
        return {
            "exchange": venue.exchange.value,
            "kind": venue.kind.value,
            "symbol": self.symbol,
            "market": self.qualified,
        }


def venue(exchange: str | None, kind: str | None = None) -> Venue:
    """The venue a client names (any letter case); Binance spot when it names none, the
    exchange's spot market when it names no kind. ValueError, with the choices, otherwise."""
    if exchange is None or not exchange.strip():
        if kind is not None and kind.strip() and kind.strip().lower() != Kind.SPOT:
            raise ValueError("a market kind needs an exchange")
        return BINANCE_SPOT
    name = exchange.strip().lower()
    kinds = [v.kind.value for v in VENUES if v.exchange.value == name]
    if not kinds:
        raise ValueError(f"unknown exchange {exchange!r}; one of {[e.value for e in Exchange]}")
    wanted = (kind or "").strip().lower() or kinds[0]
    if wanted not in kinds:
        raise ValueError(f"unknown kind {kind!r} for {name}; one of {kinds}")
    return Venue(Exchange(name), Kind(wanted))


def venue_of_key(key: str) -> Venue:
    """The venue a `venue` column holds."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise ValueError(f"unknown venue {key!r}") from None


def parse_symbol(text: str) -> str:
    """A symbol as stored: upper case, letters, digits, `-` and `_` inside; ValueError else."""
    symbol = text.strip().upper()
    if not _SYMBOL.fullmatch(symbol):
        raise ValueError(f"invalid symbol {text!r}")
    return symbol


def parse_market(text: str) -> Market:
    """`exchange:kind:SYMBOL` (`bybit:linear:BTCUSDT`), `exchange:SYMBOL` (its spot market) or
    a bare `SYMBOL` (Binance spot), any letter case."""
    parts = text.strip().split(":")
    if len(parts) > 3:
        raise ValueError(f"invalid market {text!r}: exchange:kind:SYMBOL")
    *where, symbol = parts
    return Market(venue(*where) if where else BINANCE_SPOT, parse_symbol(symbol))
