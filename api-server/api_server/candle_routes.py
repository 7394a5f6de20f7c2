"""`GET /candles`: newest first without `start_date`, oldest first with it; `end_date`
bounds either from above, and a `Link: <...>; rel="next"` header pages on."""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api_server import params
from api_server.candle_reader import Page, Reader
from api_server.page_cache import PageCache
from api_server.wire import rest_candle
from linkora_core.epoch import to_datetime
from linkora_core.markets import BINANCE_SPOT, Market
from linkora_core.timeframes import Timeframe


async def candles(request: Request) -> Response:
    query = request.query_params
    market = params.market(query)
    timeframe = params.timeframe(query)
    limit = params.limit(query)
    start = params.instant(query, "start_date")
    end = params.instant(query, "end_date")
    cache: PageCache = request.app.state.page_cache
    key = (market, timeframe, limit, start, end)
    hit = cache.get(key)
    if hit is not None:
        return _respond(*hit)

    async with request.app.state.pool.acquire() as db:
        reader = await Reader.open(
            db, market, timeframe, render=True, frontiers=request.app.state.frontiers
        )
        if start is None:
            page = await reader.newest_page(timeframe, end, limit)
        else:
            page = await reader.oldest_page(timeframe, start, end, limit)
    body = _body(page)
    headers = {}
    last = page.last_open_time
    if page.count == limit and last is not None:
        headers["Link"] = _next_link(request, market, timeframe, limit, last, start, end)
    if _immutable(page, reader.frontier(timeframe), timeframe, start, end, limit):
        cache.put(key, body, headers)
    else:
        cache.put(key, body, headers, request.app.state.settings.candle_live_cache_seconds)
    return _respond(body, headers)


def _body(page: Page) -> bytes:
    parts: list[bytes] = []
    for run in page.runs:
        parts += [orjson.dumps(rest_candle(c)) for c in run.items]
        if run.json:
            parts.append(run.json.encode())
    return b"[" + b",".join(parts) + b"]"


def _respond(body: bytes, headers: dict[str, str]) -> Response:
    return Response(body, media_type="application/json", headers=headers)


def _next_link(
    request: Request,
    market: Market,
    timeframe: Timeframe,
    limit: int,
    last: int,
    start: int | None,
    end: int | None,
) -> str:
    query: dict[str, str] = {}
    if market.venue != BINANCE_SPOT:
        query = {"exchange": market.venue.exchange.value, "kind": market.venue.kind.value}
    query |= {"symbol": market.symbol, "timeframe": timeframe.value, "limit": str(limit)}
    if start is None:
        query["end_date"] = _iso(last)
    else:
        query["start_date"] = _iso(timeframe.next_start(last))
        if end is not None:
            query["end_date"] = _iso(end)
    return f'<{request.url.path}?{urlencode(query)}>; rel="next"'


def _iso(ms: int) -> str:
    return to_datetime(ms).isoformat().replace("+00:00", "Z")


def _immutable(
    page: Page,
    frontier: int | None,
    timeframe: Timeframe,
    start: int | None,
    end: int | None,
    limit: int,
) -> bool:
    """Only pages made of stored closed rollups that new candles cannot extend."""
    newest = page.newest_open_time
    if newest is None or frontier is None or timeframe is Timeframe.MINUTE_1:
        return False
    if newest >= frontier:
        return False
    if start is None:
        return end is not None and end <= frontier
    return page.count == limit or (end is not None and end <= frontier)
