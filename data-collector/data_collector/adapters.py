"""The venues the collector collects and, for each, how its REST source and live streams are
built: Binance spot (rest.py, binance_protocol.py), Binance USDⓈ-M (binance_futures_*), Bybit
spot and linear (bybit_*), OKX spot and swap (okx_*) and WhiteBIT spot (whitebit_*).

Venues of one exchange share its per-IP request budget. Every live stream is a VenueStream, as
many connections as the venue's protocol needs: Binance spot and Bybit one, Binance USDⓈ-M and
OKX klines and books on two routes, WhiteBIT one market's candles per connection; only the
connection carrying candles fills gaps from REST after it (re)connects.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import aiohttp

from data_collector import (
    binance_futures_protocol,
    binance_futures_rest,
    binance_protocol,
    bybit_protocol,
    bybit_rest,
    okx_protocol,
    okx_rest,
    whitebit_protocol,
    whitebit_rest,
)
from data_collector.catch_up import CatchUp
from data_collector.exchange import ExchangeRest, LiveStream
from data_collector.live_store import LiveStore
from data_collector.publisher import Publisher
from data_collector.request_budget import SlidingBudget
from data_collector.rest import BinanceRest
from data_collector.settings import CollectorSettings
from data_collector.status import CollectorStatus
from data_collector.venue_stream import VenueStream, WireProtocol
from data_collector.weights import WeightBudget
from linkora_core.markets import BINANCE_SPOT, Exchange, Kind, Market, Venue

BINANCE_USDM = Venue(Exchange.BINANCE, Kind.USDM)


def rest_sources(
    settings: CollectorSettings, session: aiohttp.ClientSession, venues: Iterable[Venue]
) -> dict[Venue, ExchangeRest]:
    """A REST source per venue; the venues of one exchange pace on one budget."""
    s, out = settings, dict[Venue, ExchangeRest]()
    bybit_budget = bybit_rest.ip_budget(s.weight_budget_fraction)
    okx_budgets = okx_rest.OkxBudgets(fraction=s.weight_budget_fraction)
    for venue in venues:
        if venue == BINANCE_SPOT:
            out[venue] = BinanceRest(
                session, s.binance_base_url, WeightBudget(6000, s.weight_budget_fraction),
                timeout=s.rest_timeout, max_attempts=s.rest_max_attempts,
            )  # fmt: skip
        elif venue == BINANCE_USDM:
            out[venue] = binance_futures_rest.make_rest(s, session)
        elif venue.exchange is Exchange.BYBIT:
            out[venue] = bybit_rest.BybitRest(
                venue, session, s.bybit_base_url, bybit_budget,
                timeout=s.rest_timeout, max_attempts=s.rest_max_attempts,
            )  # fmt: skip
        elif venue.exchange is Exchange.OKX:
            out[venue] = okx_rest.make_rest(s, session, venue, okx_budgets)
        elif venue.exchange is Exchange.WHITEBIT:
            out[venue] = whitebit_rest.make_rest(s, session)
        else:
            raise ValueError(f"no collector adapter for {venue}")
    return out


# New WebSocket connections each exchange accepts per IP: (count, seconds). Binance: 300 per
# 5 minutes; Bybit: 500 attempts per 5 minutes; OKX: 3 per second; WhiteBIT: 1000 per minute
# (docs/exchanges/*.md). Every reconnect of every stream of the exchange waits for a place.
CONNECTION_LIMITS = {
    Exchange.BINANCE: (300, 300.0),
    Exchange.BYBIT: (500, 300.0),
    Exchange.OKX: (3, 1.0),
    Exchange.WHITEBIT: (1000, 60.0),
}


def connection_budgets(fraction: float) -> dict[Exchange, SlidingBudget]:
    return {
        exchange: SlidingBudget(count, seconds, fraction)
        for exchange, (count, seconds) in CONNECTION_LIMITS.items()
    }


def share_budgets(
    sources: Mapping[Venue, ExchangeRest],
    connects: Mapping[Exchange, SlidingBudget],
    shared: Collection[Exchange],
    fraction: float,
) -> None:
    """Pace the `shared` exchanges' requests and stream connections on `fraction` of their
    limits (WEIGHT_BUDGET_FRACTION split between the instances on one egress). Not Binance's
    request weight: its budget adopts the IP's whole count from X-MBX-USED-WEIGHT-1M, so the
    instances together already stay within the full fraction, and a split would cap them
    all at fraction / instances."""
    budgets: list[SlidingBudget | okx_rest.OkxBudgets] = [
        budget for exchange, budget in connects.items() if exchange in shared
    ]
    for venue, rest in sources.items():
        budget = rest.budget
        if venue.exchange in shared and isinstance(budget, SlidingBudget | okx_rest.OkxBudgets):
            budgets.append(budget)
    for budget in budgets:
        budget.fraction = fraction
        if isinstance(budget, okx_rest.OkxBudgets):
            for endpoint in budget.by_path.values():
                endpoint.fraction = fraction


@dataclass(frozen=True, slots=True)
class StreamParts:
    """What every live stream of the collector hands its candles and books to."""

    session: aiohttp.ClientSession
    store: LiveStore
    publisher: Publisher
    status: CollectorStatus
    catch_up: CatchUp
    connects: Mapping[Exchange, SlidingBudget] = field(default_factory=dict)


def live_streams(
    settings: CollectorSettings,
    rest: ExchangeRest,
    markets: Sequence[Market],
    parts: StreamParts,
) -> list[tuple[str, LiveStream]]:
    """The venue's streams for `markets`, each with a name for its task ("" for the only one)."""
    s = settings
    venue = rest.venue

    def stream(
        protocol: WireProtocol,
        on: Sequence[Market],
        fills: bool,
        sizes: Callable[[Market], Decimal] | None = None,
    ) -> VenueStream:
        return VenueStream(
            parts.session, protocol, list(on), parts.store, parts.publisher, parts.status,
            parts.catch_up if fills else None, levels=s.orderbook_levels, base_per_size=sizes,
            max_age=s.ws_max_age, receive_timeout=s.ws_receive_timeout,
            connects=parts.connects.get(venue.exchange),
        )  # fmt: skip

    if isinstance(rest, BinanceRest):
        return [("", stream(binance_protocol.make_protocol(s, rest), markets, True))]
    if isinstance(rest, binance_futures_rest.BinanceFuturesRest):
        klines, depth = binance_futures_protocol.make_protocols(s, rest)
        return [("klines", stream(klines, markets, True)), ("books", stream(depth, markets, False))]
    if isinstance(rest, okx_rest.OkxRest):
        candles, books = okx_protocol.make_protocols(s, rest, venue)
        # Swap books count contracts: they are published and stored in base currency.
        contracts = _sizes(rest) if venue.kind is Kind.SWAP else None
        return [
            ("candles", stream(candles, markets, True)),
            ("books", stream(books, markets, False, contracts)),
        ]
    if isinstance(rest, bybit_rest.BybitRest):
        return [("", stream(bybit_protocol.make_protocol(s, rest, venue), markets, True))]
    if isinstance(rest, whitebit_rest.WhitebitRest):
        # WhiteBIT carries one market's candles per connection.
        return [
            (m.symbol, stream(whitebit_protocol.make_protocol(s, rest), [m], True)) for m in markets
        ]
    raise ValueError(f"no live stream for {venue}")


def _sizes(okx: okx_rest.OkxRest) -> Callable[[Market], Decimal]:
    return lambda market: okx.base_per_size(market.symbol)
