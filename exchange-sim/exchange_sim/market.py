"""All symbols the simulator serves: klines per symbol, plus prices for order books."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from exchange_sim.candle import Candle, KlineRow, to_row
from exchange_sim.config import SimConfig, spec_for
from exchange_sim.depth import book
from exchange_sim.intervals import MINUTE_MS, bucket_start, close_ms, day_of
from exchange_sim.klines import KlineQuery, window
from exchange_sim.replay import load_csv, shifted, symbol_of
from exchange_sim.series import GeneratedSeries, ReplaySeries, Series
from exchange_sim.store import LRU, Chunk, KlineStore
from exchange_sim.warm import pack_days


class MarketData:
    def __init__(
        self,
        series: Sequence[Series],
        now_ms: Callable[[], int],
        seed: int = 0,
        cache_chunks: int = 1024,
    ) -> None:
        chunks = LRU(cache_chunks)
        self.now_ms = now_ms
        self.seed = seed
        self.stores = {s.spec.symbol: KlineStore(s, chunks, now_ms) for s in series}

    @classmethod
    def from_config(cls, config: SimConfig, now_ms: Callable[[], int]) -> MarketData:
        series: dict[str, Series] = {}
        for spec in config.specs():
            series[spec.symbol] = GeneratedSeries(
                spec,
                seed=config.seed,
                origin_day=config.origin_day,
                zero_trade_ppm=config.zero_trade_ppm,
                gap_hour_ppm=config.gap_hour_ppm,
                gaps=config.gaps,
            )
        for path in config.replay:
            symbol = symbol_of(path)
            candles = load_csv(path)
            if config.replay_align_now and candles:
                latest_closed = now_ms() // MINUTE_MS * MINUTE_MS - MINUTE_MS
                candles = shifted(candles, latest_closed - candles[-1].open_ms)
            series[symbol] = ReplaySeries(spec_for(symbol), candles)
        return cls(list(series.values()), now_ms, config.seed, config.cache_chunks)

    @property
    def symbols(self) -> list[str]:
        return list(self.stores)

    def page(self, query: KlineQuery) -> bytes:
        """The body of a klines response."""
        store = self.stores[query.symbol]
        series = store.series
        win = window(
            query,
            self.now_ms(),
            bucket_start(query.interval, series.first_ms),
            series.last_ms,
        )
        return b"[]" if win is None else store.page(query.interval, win)

    def candles(self, query: KlineQuery) -> list[Candle]:
        store = self.stores[query.symbol]
        series = store.series
        first = bucket_start(query.interval, series.first_ms)
        win = window(query, self.now_ms(), first, series.last_ms)
        return [] if win is None else store.candles(query.interval, win)

    def klines(
        self, symbol: str, start_ms: int, end_ms: int, interval: str = "1m"
    ) -> list[KlineRow]:
        """Every kline opening in [start_ms, end_ms] (up to now), as REST rows; no page limit."""
        out: list[KlineRow] = []
        cursor = start_ms
        while cursor <= end_ms:
            query = KlineQuery(symbol, interval, cursor, end_ms, 1000)
            page = self.candles(query)
            if not page:
                break
            out.extend(to_row(c, close_ms(interval, c.open_ms)) for c in page)
            cursor = page[-1].open_ms + 1
        return out

    def last_candle(self, symbol: str, interval: str = "1m") -> Candle | None:
        """The newest kline at the server time (the still-open one while live)."""
        page = self.candles(KlineQuery(symbol, interval, None, None, 1))
        return page[-1] if page else None

    def depth(self, symbol: str, levels: int, update_id: int | None = None) -> dict[str, object]:
        store = self.stores[symbol]
        now = self.now_ms()
        last = self.last_candle(symbol)
        spec = store.series.spec
        mid = last.close if last else spec.start_ticks * 10 ** (8 - spec.decimals)
        uid = update_id if update_id is not None else now // 100
        tick = 10 ** (8 - spec.decimals)
        return book(seed=self.seed, symbol=symbol, update_id=uid, mid=mid, tick=tick, levels=levels)

    def day_range(self, symbol: str) -> tuple[int, int]:
        series = self.stores[symbol].series
        last = series.last_ms if series.last_ms is not None else self.now_ms()
        return day_of(series.first_ms), day_of(last)

    async def prewarm(
        self,
        start_ms: int | None = None,
        end_ms: int | None = None,
        symbols: Sequence[str] | None = None,
        workers: int | None = None,
    ) -> int:
        """Generate and cache the 1m day chunks of generated symbols on all cores.

        Returns the number of chunks built. The cache must hold them (`cache_chunks`).
        """
        built = 0
        for symbol in symbols or self.symbols:
            store = self.stores[symbol]
            series = store.series
            if not isinstance(series, GeneratedSeries):
                continue
            first, last = self.day_range(symbol)
            lo = first if start_ms is None else max(first, day_of(start_ms))
            hi = last if end_ms is None else min(last, day_of(end_ms))
            days = [d for d in range(lo, hi + 1) if not store.has_chunk("1m", d)]
            if not days:
                continue
            for day, opens, offsets, blob in await pack_days(
                series.params, series.gaps, range(days[0], days[-1] + 1), workers
            ):
                store.put_chunk("1m", day, Chunk(opens, offsets, blob))
                built += 1
        return built
