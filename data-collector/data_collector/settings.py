"""What the collector reads from the environment, once, at start.

The markets configured are SYMBOLS, Binance spot symbols as before, followed by MARKETS
(`exchange:kind:SYMBOL`, a bare symbol being Binance spot; linkora_core.markets), each once.
They seed the desired state in the database, which is what the collector collects (a market
an operator removed stays removed); book levels, the book storage rate and the audit interval
may be changed there at runtime too (linkora_core.control_store).
Every venue of linkora_core.markets has an adapter (data_collector/adapters.py); a venue
added there without one is refused at startup, naming the venues supported.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Final, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import NoDecode

from data_collector.announcements import Announce
from linkora_core.epoch import floor_minute, to_ms
from linkora_core.markets import BINANCE_SPOT, VENUES, Exchange, Market, Venue, parse_market
from linkora_core.settings import (
    CommonSettings,
    Symbols,
    parse_start_date,
    split_list,
    split_symbols,
)
from linkora_core.timeframes import Timeframe

_SYMBOL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# Venues the collector has an adapter for (REST, stream, book sequencing).
SUPPORTED_VENUES: Final[tuple[Venue, ...]] = VENUES


class RealtimeMode(StrEnum):
    WS = "ws"
    REST = "rest"


class CollectorSettings(CommonSettings):
    """Each exchange's endpoints, the markets to collect and how often to do what."""

    binance_base_url: str = "https://api.binance.com"
    binance_stream_url: str = "wss://stream.binance.com:9443"
    # The other venues' hosts (docs/exchanges/); the simulator serves them all on one port.
    binance_futures_base_url: str = "https://fapi.binance.com"
    binance_futures_stream_url: str = "wss://fstream.binance.com"
    bybit_base_url: str = "https://api.bybit.com"
    bybit_stream_url: str = "wss://stream.bybit.com"
    okx_base_url: str = "https://www.okx.com"
    okx_stream_url: str = "wss://ws.okx.com:8443"
    whitebit_base_url: str = "https://whitebit.com"
    whitebit_stream_url: str = "wss://api.whitebit.com"
    symbols: Symbols = Field(default_factory=lambda: ["BTCUSDT", "ETHUSDT"])
    markets: Annotated[list[Market], NoDecode] = Field(default_factory=list)
    start_date: datetime = datetime(2024, 1, 1, tzinfo=UTC)

    realtime_mode: RealtimeMode = RealtimeMode.WS
    realtime_interval: float = Field(default=2.0, gt=0)  # REST polling period, seconds
    ws_max_age: float = Field(default=23.5 * 3600, gt=0)  # reconnect before Binance's 24 h cut
    ws_receive_timeout: float = Field(default=60.0, gt=0)  # silence that counts as a dead socket

    orderbook_levels: int = 20  # 5, 10 or 20: the partial depth stream's sizes
    orderbook_store_interval: float = Field(default=1.0, ge=0)  # seconds between stored books
    orderbook_retention: float = Field(default=7 * 86_400.0, ge=0)  # seconds; 0 keeps forever

    audit_interval: float = Field(default=3600.0, ge=0)  # seconds; 0 disables the gap audit
    weight_budget_fraction: float = Field(default=0.8, gt=0, le=1)
    rest_timeout: float = Field(default=10.0, gt=0)
    rest_max_attempts: int = Field(default=8, ge=1)
    backfill_concurrency: int = Field(default=4, ge=1)  # kline requests in flight per market
    backfill_batch_rows: int = Field(default=50_000, ge=1000)  # rows per COPY + upsert
    backfill_writers: int = Field(default=2, ge=1)  # database connections writing in parallel
    publish_queue_size: int = Field(default=10_000, ge=1)

    # Sharing the markets with other collectors through leases (issue 19; leases.py). The
    # instance name is unique per process; the egress groups instances behind one outgoing
    # address, whose per-IP limits of the SHARED_RATE_LIMITS exchanges they split.
    collector_instance: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}", min_length=1
    )
    collector_egress: str = Field(default_factory=socket.gethostname, min_length=1)
    lease_seconds: float = Field(default=15.0, ge=3)
    shared_rate_limits: Annotated[frozenset[Exchange], NoDecode] = frozenset(Exchange)

    # What other applications are told through the outbox (issue 18; announcements.py).
    broker_kline_timeframes: Annotated[tuple[Timeframe, ...], NoDecode] = (Timeframe.MINUTE_1,)
    broker_price_interval: float = Field(default=1.0, ge=0)  # seconds per market; 0: none
    broker_orderbooks: bool = True  # announce every stored book
    broker_historical: bool = True  # announce every committed backfill chunk

    @field_validator("symbols", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_symbols(value)

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        for symbol in value:
            if not 2 <= len(symbol) <= 20 or not set(symbol) <= _SYMBOL_CHARS:
                raise ValueError(f"{symbol!r} is not a Binance symbol")
        return list(dict.fromkeys(value))

    @field_validator("markets", mode="before")
    @classmethod
    def _parse_markets(cls, value: object) -> object:
        parts = split_list(value)
        if not isinstance(parts, list):
            return parts
        return [part if isinstance(part, Market) else parse_market(str(part)) for part in parts]

    @field_validator("markets")
    @classmethod
    def _check_venues(cls, value: list[Market]) -> list[Market]:
        unsupported = [str(m) for m in value if m.venue not in SUPPORTED_VENUES]
        if unsupported:
            supported = ", ".join(v.key for v in SUPPORTED_VENUES)
            raise ValueError(
                f"no collector adapter yet for the venue of {', '.join(unsupported)}; "
                f"supported venues: {supported}"
            )
        return value

    @model_validator(mode="after")
    def _check_some_market(self) -> Self:
        if not self.collected_markets:
            raise ValueError("at least one market is required (SYMBOLS or MARKETS)")
        return self

    @field_validator("collector_instance", "collector_egress", mode="before")
    @classmethod
    def _default_when_empty(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str) and not value.strip():
            default = cls.model_fields[info.field_name or ""].default_factory
            return default() if default is not None else value  # type: ignore[call-arg]
        return value

    @field_validator("shared_rate_limits", mode="before")
    @classmethod
    def _parse_exchanges(cls, value: object) -> object:
        parts = split_list(value)
        if not isinstance(parts, list):
            return parts
        known = ", ".join(e.value for e in Exchange)
        try:
            return frozenset(Exchange(str(part).lower()) for part in parts)
        except ValueError:
            raise ValueError(f"exchanges must be among {known}") from None

    @field_validator("broker_kline_timeframes", mode="before")
    @classmethod
    def _parse_timeframes(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if value.strip().lower() == "all":
            return tuple(Timeframe)
        labels = [part.strip() for part in value.split(",") if part.strip()]
        return tuple(dict.fromkeys(Timeframe.parse(label) for label in labels))

    @field_validator("orderbook_levels")
    @classmethod
    def _check_levels(cls, value: int) -> int:
        if value not in (5, 10, 20):
            raise ValueError("must be 5, 10 or 20")
        return value

    @field_validator("start_date", mode="before")
    @classmethod
    def _parse_start(cls, value: object) -> object:
        return parse_start_date(value)

    @field_validator(
        "binance_base_url", "binance_stream_url", "binance_futures_base_url",
        "binance_futures_stream_url", "bybit_base_url", "bybit_stream_url", "okx_base_url",
        "okx_stream_url", "whitebit_base_url", "whitebit_stream_url",
    )  # fmt: skip
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def collected_markets(self) -> list[Market]:
        """SYMBOLS as Binance spot markets, then MARKETS, each market once."""
        spot = [Market(BINANCE_SPOT, symbol) for symbol in self.symbols]
        return list(dict.fromkeys([*spot, *self.markets]))

    @property
    def announce(self) -> Announce:
        """The market messages to write into the outbox."""
        return Announce(
            self.broker_kline_timeframes,
            round(self.broker_price_interval * 1000),
            self.broker_orderbooks,
            self.broker_historical,
        )

    @property
    def start_ms(self) -> int:
        return floor_minute(to_ms(self.start_date))
