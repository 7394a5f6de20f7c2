"""The api-server's OpenAPI 3.1 document, beside the routes it describes (a test checks that
every HTTP route is documented and every documented path is a route)."""

from __future__ import annotations

from api_server import admin_openapi, system_schema
from api_server.exchange_routes import MAX_QUOTES
from api_server.params import MAX_LIMIT, SUPPORTED_LEVELS, SUPPORTED_TIMEFRAMES
from api_server.udf_routes import SUPPORTED as UDF_RESOLUTIONS
from linkora_core.markets import VENUES, Exchange, Kind
from linkora_core.openapi import (
    Schema,
    decimal,
    document,
    errors,
    get,
    json_response,
    obj,
    path_parameter,
    query,
    ready_schema,
    ref,
    status_paths,
)

_MS = {"type": "integer", "description": "Epoch milliseconds"}
_TIME = {"type": "string", "format": "date-time"}
_SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,30}[A-Za-z0-9]$"
_SYMBOL = query(
    "symbol",
    {"type": "string", "pattern": _SYMBOL_PATTERN},
    "Trading pair in the exchange's spelling, case-insensitive (`BTCUSDT`, `BTC-USDT-SWAP`, "
    "`BTC_USDT`); Binance spot's are 2-20 letters and digits",
    required=True,
)
_VENUES = ", ".join(f"`{v.exchange.value}` {v.kind.value}" for v in VENUES)
_EXCHANGE = query(
    "exchange",
    {"type": "string"},
    f"Exchange, any letter case (`binance`, `bybit`, `okx`, `whitebit`); without it, Binance "
    f"spot. A bad one is a 400. Its kinds of market: {_VENUES}",
)
_KIND = query(
    "kind",
    {"type": "string"},
    "The exchange's kind of market, any letter case (Binance `spot`, `usdm`; Bybit `spot`, "
    "`linear`; OKX `spot`, `swap`; WhiteBIT `spot`); default its spot market",
)
_MARKET = (_EXCHANGE, _KIND, _SYMBOL)
_TIMEFRAME = query(
    "timeframe",
    {"type": "string", "enum": SUPPORTED_TIMEFRAMES, "default": "1"},
    "Candle timeframe",
)

_CANDLE = obj(
    {
        "timestamp": {**_MS, "description": "Bucket open, epoch milliseconds"},
        "open_time": {**_TIME, "description": "Bucket open (`+00:00`)"},
        "close_time": {**_TIME, "description": "Last millisecond of the bucket (`+00:00`)"},
        "open_price": decimal(),
        "high_price": decimal(),
        "low_price": decimal(),
        "close_price": decimal(),
        "volume": decimal("Base asset volume"),
        "quote_volume": decimal("Quote asset volume"),
        "trades": {
            "type": ["integer", "null"],
            "minimum": 0,
            "description": "null where the exchange publishes no trade count",
        },
        "taker_buy_volume": decimal("null where the exchange publishes none", nullable=True),
        "taker_buy_quote_volume": decimal("null where the exchange publishes none", nullable=True),
    }
)
_CANDLES = {"type": "array", "items": ref("Candle")}
_LEVEL = obj({"price": decimal(), "quantity": decimal()})
# A market other than Binance spot is named in answers by these, before its symbol.
_WHERE = {
    "exchange": {"type": "string", "enum": [e.value for e in Exchange]},
    "kind": {"type": "string", "enum": [k.value for k in Kind]},
}
_ORDERBOOK = obj(
    {
        **_WHERE,
        "symbol": {"type": "string"},
        "timestamp": _MS,
        "last_update_id": {"type": "integer"},
        "bids": {"type": "array", "items": ref("BookLevel"), "description": "Best (highest) first"},
        "asks": {"type": "array", "items": ref("BookLevel"), "description": "Best (lowest) first"},
    },
    optional=["exchange", "kind"],
)
_PRICE = obj(
    {
        **_WHERE,
        "symbol": {"type": "string"},
        "timeframe": {"type": "string", "enum": SUPPORTED_TIMEFRAMES},
        "current_price": decimal("Close of the latest (possibly open) bucket"),
        "previous_price": decimal("Close of the bucket before it"),
        "change_absolute": decimal(),
        "change_percent": decimal("Rounded to two places"),
        "trend": {"type": "string", "enum": ["up", "down", "neutral"]},
        "timestamp": {**_MS, "description": "Open of the latest bucket"},
        "volume": decimal("Volume of the latest bucket"),
    },
    optional=["exchange", "kind"],
)
_HEALTH = obj(
    {
        "status": {"type": "string", "enum": ["healthy", "degraded"]},
        "timestamp": _TIME,
        "database": {"type": "string", "enum": ["healthy", "unhealthy"]},
        "redis": {"type": "string", "enum": ["healthy", "unhealthy"]},
        "live_feed": {"type": "string", "enum": ["subscribed", "disconnected"]},
        "websocket_clients": {"type": "integer", "minimum": 0},
        "rollups": obj(
            {
                "enabled": {"type": "boolean", "description": "This process runs a maintainer"},
                "maintainer": {
                    "type": "boolean",
                    "description": "This process holds the maintainer lock (one replica does)",
                },
                "since": {**_TIME, "type": ["string", "null"], "description": "Held since"},
            }
        ),
    },
    optional=["redis", "live_feed", "websocket_clients", "rollups"],
    closed=False,
)
_READY = ready_schema(
    "What keeps the server from serving (`database`, `redis`, `live_feed`, or a background "
    "task's name), with why; empty when ready"
)
# What a UDF symbol search result and a resolved symbol both name.
_UDF_NAMES = {
    "full_name": {"type": "string"},
    "description": {"type": "string"},
    "exchange": {"type": "string"},
    "ticker": {"type": "string"},
    "type": {"const": "crypto"},
}
_UDF_INFO = obj(
    {
        "name": {"type": "string"},
        **_UDF_NAMES,
        "listed_exchange": {"type": "string"},
        "session": {"type": "string"},
        "timezone": {"type": "string"},
        "minmov": {"type": "integer"},
        "pricescale": {"type": "integer"},
        "has_intraday": {"type": "boolean"},
        "has_daily": {"type": "boolean"},
        "has_weekly_and_monthly": {"type": "boolean"},
        "supported_resolutions": {"type": "array", "items": {"type": "string"}},
        "volume_precision": {"type": "integer"},
        "data_status": {"type": "string"},
    }
)
_UDF_FOUND = obj({"symbol": {"type": "string"}, **_UDF_NAMES})
_NUMBERS = {"type": "array", "items": {"type": "number"}}
_UDF_BARS = {
    "oneOf": [
        obj(
            {
                "s": {"const": "ok"},
                "t": {"type": "array", "items": {"type": "integer"}, "description": "Seconds"},
                "o": _NUMBERS,
                "h": _NUMBERS,
                "l": _NUMBERS,
                "c": _NUMBERS,
                "v": _NUMBERS,
            }
        ),
        obj(
            {"s": {"const": "no_data"}, "nextTime": {"type": "integer"}},
            optional=["nextTime"],
        ),
    ]
}
_UDF_ERROR = obj({"s": {"const": "error"}, "errmsg": {"type": "string"}})
_UDF_CONFIG = obj(
    {
        "supported_resolutions": {"type": "array", "items": {"type": "string"}},
        "supports_group_request": {"type": "boolean"},
        "supports_marks": {"type": "boolean"},
        "supports_search": {"type": "boolean"},
        "supports_timescale_marks": {"type": "boolean"},
        "supports_time": {"type": "boolean"},
        "exchanges": {"type": "array", "items": {"type": "object"}},
        "symbols_types": {"type": "array", "items": {"type": "object"}},
    }
)

_MARK_COLOR = obj({"border": {"type": "string"}, "background": {"type": "string"}})


def _column(items: Schema) -> Schema:
    return {"type": "array", "items": items}


_UDF_MARKS = obj(
    {
        "id": _column({"type": "integer", "description": "The order's id"}),
        "time": _column({"type": "integer", "description": "Open of the bar, epoch seconds"}),
        "color": _column(_MARK_COLOR),
        "text": _column({"type": "string", "description": "Tooltip lines joined by newlines"}),
        "label": _column({"type": "string", "enum": ["B", "S"]}),
        "labelFontColor": _column({"type": "string"}),
        "minSize": _column({"type": "integer"}),
    }
)
_UDF_TIMESCALE_MARK = obj(
    {
        "id": {"type": "integer", "description": "The order's id"},
        "time": {"type": "integer", "description": "Open of the bar, epoch seconds"},
        "color": {"type": "string"},
        "label": {"type": "string", "enum": ["B", "S"]},
        "tooltip": {"type": "array", "items": {"type": "string"}},
    }
)
_MARK_PARAMETERS = (
    *_MARKET,
    query(
        "resolution",
        {"type": "string", "enum": UDF_RESOLUTIONS},
        "UDF resolution: each mark sits on the bar its order closed in",
        required=True,
    ),
    query("from", {"type": "integer"}, "Epoch seconds: from this one's bar", required=True),
    query("to", {"type": "integer"}, "Epoch seconds: up to this one's bar", required=True),
)
_MARKS_DESCRIPTION = (
    "The DEX's executed and cancelled orders on the token pairs `ORDER_MARKETS` maps to this "
    "symbol (either direction: paying in the base is a sell), at most 1,000, the newest in the "
    "range, oldest first; a symbol with no pair has none. Amounts and prices are exact decimals "
    "in the tooltip (a token of unknown decimals: raw units)."
)


# Exchange information (exchange_routes.py).
_EXCHANGE_NAME = {"type": "string", "enum": [e.value for e in Exchange]}
_KIND_NAME = {"type": "string", "enum": [k.value for k in Kind]}
_VENUE_STATE = {
    "type": "string",
    "enum": ["online", "degraded", "offline", "not_collected"],
    "description": "`not_collected`: no market of it is collected; `offline`: the collector "
    "wrote no figures for it in the last 30 s, or its stream is not connected; `degraded`: a "
    "market of it failed or an error is recorded",
}
_COUNT = {"type": "integer", "minimum": 0}
_NULL_COUNT = {"type": ["integer", "null"], "minimum": 0}
_NULL_MS = {"type": ["integer", "null"], "description": "Epoch milliseconds, or null"}
_EXCHANGES = obj(
    {
        "exchanges": {
            "type": "array",
            "items": obj(
                {
                    "exchange": _EXCHANGE_NAME,
                    "kinds": {
                        "type": "array",
                        "items": obj(
                            {
                                "kind": _KIND_NAME,
                                "status": _VENUE_STATE,
                                "markets": {**_COUNT, "description": "Markets collected"},
                            }
                        ),
                    },
                }
            ),
        }
    }
)
_EXCHANGE_MARKETS = obj(
    {
        "exchange": _EXCHANGE_NAME,
        "kind": _KIND_NAME,
        "markets": {
            "type": "array",
            "items": obj(
                {
                    "symbol": {"type": "string"},
                    "phase": {
                        "type": "string",
                        "enum": ["starting", "backfill", "realtime", "error"],
                    },
                    "first_minute": {**_NULL_MS, "description": "Open of the oldest stored minute"},
                    "last_closed_minute": {
                        **_NULL_MS,
                        "description": "Open of the newest closed minute",
                    },
                    "backfill_done": {**_COUNT, "description": "Minutes backfilled"},
                    "backfill_total": {**_COUNT, "description": "Minutes to backfill in all"},
                }
            ),
        },
    }
)
_TICKER = obj(
    {
        "exchange": _EXCHANGE_NAME,
        "kind": _KIND_NAME,
        "symbol": {"type": "string"},
        "last_price": decimal("Close of the newest minute"),
        "open_24h": decimal("Open of the 24 h ending with the newest minute"),
        "high_24h": decimal(),
        "low_24h": decimal(),
        "volume_24h": decimal("Base asset volume"),
        "quote_volume_24h": decimal("Quote asset volume"),
        "change_24h": decimal("last_price - open_24h"),
        "change_percent_24h": decimal("Rounded half-even to two places"),
        "timestamp": {**_MS, "description": "Open of the newest minute"},
    }
)
_VENUE_STATUS = obj(
    {
        "exchange": _EXCHANGE_NAME,
        "kind": _KIND_NAME,
        "status": _VENUE_STATE,
        "connected": {"type": "boolean", "description": "Its live stream is connected"},
        "rest_requests": {**_NULL_COUNT, "description": "REST requests sent by the collector"},
        "budget_used": {**_NULL_COUNT, "description": "Request budget used in its window"},
        "budget_limit": {**_NULL_COUNT, "description": "Request budget per window"},
        "rejections": {**_NULL_COUNT, "description": "Rate-limit answers waited out"},
        "lag_seconds": {
            "type": ["number", "null"],
            "minimum": 0,
            "description": "How far the end of its newest closed minute is behind now",
        },
        "last_error": {"type": ["string", "null"]},
        "book_resyncs": {**_NULL_COUNT, "description": "Order books found out of sync"},
        "malformed": {**_NULL_COUNT, "description": "Answers and frames refused as malformed"},
        "updated_at": {**_NULL_MS, "description": "When the collector wrote these figures"},
    }
)
_QUOTE_VALUES = obj(
    {
        "ch": decimal("Change over 24 h"),
        "chp": decimal("Change in percent, two places"),
        "short_name": {"type": "string"},
        "exchange": {"type": "string"},
        "description": {"type": "string"},
        "lp": decimal("Last price"),
        "open_price": decimal(),
        "high_price": decimal(),
        "low_price": decimal(),
        "prev_close_price": decimal("The price 24 h ago (the window's open)"),
        "volume": decimal(),
    }
)
_UDF_QUOTES = obj(
    {
        "s": {"const": "ok"},
        "d": {
            "type": "array",
            "items": {
                "oneOf": [
                    obj({"s": {"const": "ok"}, "n": {"type": "string"}, "v": _QUOTE_VALUES}),
                    obj(
                        {
                            "s": {"const": "error"},
                            "n": {"type": "string"},
                            "v": obj({}),
                        }
                    ),
                ]
            },
        },
    }
)
_EXCHANGE_PATH = path_parameter(
    "exchange",
    {"type": "string"},
    "`binance`, `bybit`, `okx` or `whitebit`, any letter case; another is a 404",
)

_PATHS: dict[str, Schema] = {
    "/": get(
        "The live chart page",
        {
            "200": {
                "description": "The page",
                "content": {"text/html": {"schema": {"type": "string"}}},
            }
        },
        description="Candles, order book and recent orders; its assets are under `/static/`.",
    ),
    "/asyncapi.json": get(
        "The AsyncAPI 2.6 document of the broker's messages",
        {"200": json_response("The document", {"type": "object"})},
        description="Every routing key on RabbitMQ, its message and payload schema, examples.",
    ),
    "/page-config.json": get(
        "Where the chart page finds the order API",
        {
            "200": json_response(
                "The page's configuration", obj({"order_api_url": {"type": "string"}})
            )
        },
    ),
    **status_paths(
        health="Health",
        health_description="Always 200; says which dependencies answer.",
        ready="200 when the database and Redis answer, the live feed is subscribed and every "
        "background task runs; else 503 naming each problem (a load balancer drains the "
        "replica). Database and Redis checks are reused for about a second.",
    ),
    "/symbols": get(
        "Symbols with candles",
        {
            "200": json_response(
                "The symbols",
                obj({"symbols": {"type": "array", "items": {"type": "string"}}}),
            ),
            **errors(400, 503),
        },
        _EXCHANGE,
        _KIND,
        description="Sorted; those of one venue (Binance spot without `exchange`).",
    ),
    "/candles": get(
        "Candles of one symbol and timeframe",
        {
            "200": {
                **json_response("A bare array of candles", _CANDLES),
                "headers": {
                    "Link": {
                        "description": 'The next page, `<url>; rel="next"`',
                        "schema": {"type": "string"},
                    }
                },
            },
            **errors(400, 503),
        },
        *_MARKET,
        _TIMEFRAME,
        query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 500},
            "How many candles",
        ),
        query("start_date", _TIME, "ISO-8601 (`Z` allowed, naive means UTC)"),
        query("end_date", _TIME, "ISO-8601 upper bound (exclusive)"),
        description="Without `start_date`: the newest `limit` candles, newest first. With "
        "`start_date`: the first `limit` candles at or after it, oldest first. `end_date` bounds "
        'either from above. A full page carries `Link: <...>; rel="next"` to the next one.',
    ),
    "/orderbook": get(
        "The latest order book snapshot",
        {"200": json_response("The book", ref("OrderBook")), **errors(400, 404, 503)},
        *_MARKET,
        query(
            "levels",
            {"type": "integer", "enum": SUPPORTED_LEVELS, "default": 20},
            "Levels per side",
        ),
        description="Best levels first.",
    ),
    "/price": get(
        "Latest price and change",
        {"200": json_response("The price", ref("Price")), **errors(400, 404, 503)},
        *_MARKET,
        _TIMEFRAME,
        description="The latest (possibly open) bucket of the timeframe against the bucket "
        "before it.",
    ),
    "/exchanges": get(
        "Exchanges and their status",
        {"200": json_response("Every venue by exchange", _EXCHANGES), **errors(503)},
        description="Every exchange and kind of market the platform knows, in a fixed order, "
        "with its status from the collector's figures and how many markets are collected.",
    ),
    "/exchanges/status": get(
        "The collector's figures per venue",
        {
            "200": json_response(
                "Every venue",
                obj({"venues": {"type": "array", "items": ref("VenueStatus")}}),
            ),
            **errors(503),
        },
        description="Connection, request budget, rejections, lag, last error, book resyncs "
        "and malformed counts, as the data-collector last wrote them (every 5 s); figures are "
        "null for a venue it never wrote.",
    ),
    "/exchanges/{exchange}/markets": get(
        "The collected markets of one venue",
        {"200": json_response("Markets by symbol", _EXCHANGE_MARKETS), **errors(400, 404, 503)},
        _EXCHANGE_PATH,
        _KIND,
    ),
    "/exchanges/{exchange}/timeframes": get(
        "The timeframes served for an exchange",
        {
            "200": json_response(
                "Timeframes",
                obj({"timeframes": {"type": "array", "items": {"type": "string"}}}),
            ),
            **errors(400, 404),
        },
        _EXCHANGE_PATH,
        _KIND,
    ),
    "/tickers": get(
        "24 h tickers from the stored candles",
        {
            "200": json_response(
                "Tickers by symbol",
                obj({"tickers": {"type": "array", "items": ref("Ticker")}}),
            ),
            **errors(400, 503),
        },
        _EXCHANGE,
        _KIND,
        query(
            "symbol",
            {"type": "string", "pattern": _SYMBOL_PATTERN},
            "Only this symbol (case-insensitive); without it, every symbol of the venue",
        ),
        description="Over the 24 h ending with each market's newest stored minute (which may "
        "still be open): prices by the aggregation rule of the candles (from the minutes that "
        "traded), volumes summed. A symbol without minutes has no ticker. Binance spot without "
        "`exchange`.",
    ),
    "/udf/config": get(
        "TradingView UDF configuration",
        {"200": json_response("Configuration", _UDF_CONFIG)},
    ),
    "/udf/symbols": get(
        "TradingView UDF symbol information",
        {"200": json_response("The symbol", _UDF_INFO), **errors(400, 404, 503)},
        *_MARKET,
        description="Without `exchange` and `kind`, the symbol may be a ticker naming its venue, "
        "`BYBIT-LINEAR:BTCUSDT`, as other venues' tickers are given (here, in search results); "
        "the same holds for `/udf/history` and the marks.",
    ),
    "/udf/search": get(
        "TradingView UDF symbol search",
        {
            "200": json_response("Matches", {"type": "array", "items": _UDF_FOUND}),
            **errors(400, 503),
        },
        _EXCHANGE,
        _KIND,
        query("query", {"type": "string"}, "Substring of the symbol"),
        query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 30},
            "How many matches",
        ),
    ),
    "/udf/history": get(
        "TradingView UDF bars",
        {
            "200": json_response("Bars, or no_data", _UDF_BARS),
            "400": json_response("A bad parameter", _UDF_ERROR),
            **errors(503),
        },
        *_MARKET,
        query(
            "resolution",
            {"type": "string", "enum": UDF_RESOLUTIONS},
            "UDF resolution",
            required=True,
        ),
        query("from", {"type": "integer"}, "Epoch seconds, inclusive"),
        query("to", {"type": "integer"}, "Epoch seconds, exclusive"),
        query("countback", {"type": "integer", "minimum": 0}, "Bars wanted before `to`"),
        description="Bar values are JSON numbers written as exact decimal literals.",
    ),
    "/udf/marks": get(
        "TradingView UDF marks: the DEX's orders on the chart",
        {"200": json_response("Marks as a table", _UDF_MARKS), **errors(400, 503)},
        *_MARK_PARAMETERS,
        description=_MARKS_DESCRIPTION,
    ),
    "/udf/timescale_marks": get(
        "TradingView UDF time-scale marks: the DEX's orders on the time axis",
        {
            "200": json_response("Marks", {"type": "array", "items": _UDF_TIMESCALE_MARK}),
            **errors(400, 503),
        },
        *_MARK_PARAMETERS,
        description=_MARKS_DESCRIPTION,
    ),
    "/udf/quotes": get(
        "TradingView UDF quotes",
        {"200": json_response("Quotes in the order asked", _UDF_QUOTES), **errors(400, 503)},
        query(
            "symbols",
            {"type": "string"},
            "Comma-separated tickers as in `/udf/search` (`BTCUSDT`, `BYBIT-LINEAR:BTCUSDT`), "
            f"at most {MAX_QUOTES}",
            required=True,
        ),
        description="From the tickers of `/tickers`. Prices and volumes are plain decimal "
        "STRINGS, not JSON numbers: this API never carries a price through a float. A ticker "
        'unknown or without minutes is `{"s": "error", "n": ..., "v": {}}`.',
    ),
    "/system": system_schema.PATH,
    "/udf/time": get(
        "Server time",
        {
            "200": {
                "description": "Epoch seconds",
                "content": {"text/plain": {"schema": {"type": "string", "pattern": r"^\d+$"}}},
            }
        },
        description="Epoch seconds as plain text.",
    ),
    **admin_openapi.PATHS,
}

_DESCRIPTION = (
    "Candles for 13 timeframes, order books and prices of markets on several exchanges: every "
    "market endpoint takes `exchange` and `kind` (Binance spot without them), and answers about "
    'another venue name it with `"exchange"` and `"kind"`. Market values are JSON strings '
    'holding plain decimals. Errors are `{"error": "..."}`. Live data: the WebSocket '
    "`/ws?symbol=BTCUSDT&timeframe=5&type=candles|orderbook|progress|system"
    "[&exchange=bybit&kind=linear][&since=<ms>]` (defaults `all`, `1`, `candles`, Binance "
    "spot) sends candle messages `{symbol, timeframe, timestamp, open, high, low, close, "
    "volume, quote_volume, trades, closed, ..., seq}` (with `exchange` and `kind` first for a "
    "venue other than Binance spot; `seq` is the bucket's open time, the same on every "
    "replica) or order books shaped like `GET /orderbook` then `seq` (their "
    "`last_update_id`), one market's open bucket or current book first. `since` (the `seq` "
    "of the last closed candle seen; also in a subscribe message) resumes: the closed candles "
    "opening after it are replayed from the database in order (at most 5000, the newest "
    'then), followed by `{"type":"replayed",symbol,timeframe,since,count,first,last,'
    "truncated}`, then the live stream with no gap and no duplicate; 1013 when the database "
    "cannot say, 1008 for a bad `since`. The server also sends a "
    '`{"type":"heartbeat"}` every 30 s; send `{"type":"ping"}` for a `{"type":"pong"}`, or '
    '`{"type":"subscribe","stream":"candles|orderbook|progress|system","symbol":..,'
    '"timeframe":..,"exchange":..,"kind":..}` (and `unsubscribe`). `progress` (every market '
    "without a market named; one venue with only `exchange` and `kind`) relays backfill "
    'progress as `{"type":"progress","data":{exchange, kind, symbol, market, status (running, '
    "done, error, removed), message, percent (decimal string), done, total, rate, "
    "eta_seconds}}` at least once a second while a market backfills, the running markets' "
    'latest first; `system` sends `{"type":"system","data":<GET /system>}` every '
    'WS_SYSTEM_INTERVAL (5) s. Commands `{"type":"command","data":"status"|"list"|"help"}` '
    "answer `{type: status|list|help, data}` (clients, this connection's subscriptions, "
    "markets, uptime; the markets collected with their phase, timeframes, streams; the "
    'message types); an unknown command or a bad subscribe answers `{"type":"error",'
    '"error":..}`. A market removed through `/admin` sends its subscribers `{"type":'
    '"market_removed","market":..,"message":..}`, ends those subscriptions and closes a '
    'connection left with none (1000, "market removed"). An invalid timeframe, type, exchange '
    "or kind in the query closes with code 1008 (reasons are cut to 123 bytes), as do "
    "too many connections or handshakes from one address; a server at its connection cap "
    "closes new clients with 1013. The operator's API is under `/admin` (markets, exchanges, "
    "runtime settings, purge, audit log), with `Authorization: Bearer <ADMIN_TOKEN>`: 401 "
    "without it, 403 with a wrong one, 429 after too many wrong ones from one address, 503 "
    "while no ADMIN_TOKEN is set."
)

DOCUMENT = document(
    "Linkora API server",
    _DESCRIPTION,
    _PATHS,
    {
        "Candle": _CANDLE,
        "BookLevel": _LEVEL,
        "OrderBook": _ORDERBOOK,
        "Price": _PRICE,
        "Ticker": _TICKER,
        "VenueStatus": _VENUE_STATUS,
        "Health": _HEALTH,
        "Ready": _READY,
        **admin_openapi.SCHEMAS,
        "System": system_schema.SYSTEM,
        "ServiceHeartbeat": system_schema.SERVICE,
    },
)
DOCUMENT["components"]["securitySchemes"] = admin_openapi.SECURITY_SCHEMES
