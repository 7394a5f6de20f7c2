"""Exercise every REST endpoint of the API server and the order API, and both WebSocket types,
against a running platform; print one PASS/FAIL line per check and exit 1 on any failure.

    python demo/api_test.py --stack /tmp/run/stack.json
    python demo/api_test.py --api http://127.0.0.1:8022 --orders http://127.0.0.1:8080
    python demo/api_test.py --stack stack.json --interactive     # pick groups from a menu
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from eth_utils.address import to_checksum_address
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

PLAIN = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$")
TIMEFRAMES = ["1", "3", "5", "15", "30", "45", "1H", "2H", "3H", "4H", "1D", "1W", "1M"]
CANDLE_KEYS = {
    "timestamp", "open_time", "close_time", "open_price", "high_price", "low_price",
    "close_price", "volume", "quote_volume", "trades", "taker_buy_volume",
    "taker_buy_quote_volume",
}  # fmt: skip
ORDER_KEYS = {
    "id", "user_address", "token_in", "token_out", "amount_in", "target_price",
    "min_amount_out", "order_type", "is_long", "status", "created_at", "executed_at",
}  # fmt: skip
DETAIL_KEYS = ORDER_KEYS | {
    "self_executable", "updated_at", "tx_hash", "block_number", "executor_address",
    "amount_out", "execution_tx_hash",
}  # fmt: skip
LIST_KEYS = {"orders", "total", "limit", "offset", "has_more", "status"}
NO_SUCH_ORDER = 987654321
Query = dict[str, str | int]


class CheckFailed(Exception):
    """A check's expectation that did not hold; the message says what was seen."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def plain(value: Any, what: str) -> None:
    expect(isinstance(value, str), f"{what} is {value!r}, not a string")
    expect(bool(PLAIN.match(value)), f"{what} is {value!r}, not a plain decimal")


class Runner:
    def __init__(self, api: str, orders: str, websocket: str, timeout: float) -> None:
        self.api, self.orders, self.websocket = api.rstrip("/"), orders.rstrip("/"), websocket
        self.timeout = timeout
        self.http = httpx.Client(timeout=timeout)
        self.passed = self.failed = 0
        self.symbol = "BTCUSDT"

    def check(self, name: str, body: Callable[..., str | None], *args: Any) -> None:
        try:
            note = body(*args)
        except CheckFailed as failure:
            self.failed += 1
            print(f"FAIL {name}: {failure}", flush=True)
        except (httpx.HTTPError, OSError, ConnectionClosed, ValueError, KeyError) as error:
            self.failed += 1
            print(f"FAIL {name}: {type(error).__name__}: {error}", flush=True)
        else:
            self.passed += 1
            print(f"PASS {name}" + (f" ({note})" if note else ""), flush=True)

    def get(self, base: str, path: str, params: Query | None = None, status: int = 200) -> Any:
        response = self.http.get(base + path, params=params)
        expect(
            response.status_code == status,
            f"GET {path} {params or ''} answered {response.status_code}, expected {status}: "
            f"{response.text[:200]}",
        )
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def error(self, base: str, path: str, params: Query, status: int, message: str) -> str:
        body = self.get(base, path, params, status)
        expect(body == {"error": message}, f"{path} {params}: body {body!r}, wanted {message!r}")
        return f"{status} {message!r}"

    def reachable(self) -> bool:
        ok = True
        for name, base in (("api-server", self.api), ("order API", self.orders)):
            try:
                self.http.get(base + "/health")
            except httpx.HTTPError as error:
                print(f"FAIL {name} reachable at {base}: {type(error).__name__}: {error}")
                ok = False
        return ok


# API server ---------------------------------------------------------------------------------


def wait_for_data(run: Runner, seconds: float) -> None:
    """A platform that just started may not have candles and books yet."""

    def body() -> str:
        deadline = time.monotonic() + seconds
        while True:
            symbols = run.get(run.api, "/symbols")["symbols"]
            if symbols:
                run.symbol = "BTCUSDT" if "BTCUSDT" in symbols else symbols[0]
                candles = run.get(run.api, "/candles", {"symbol": run.symbol, "limit": 3})
                book = run.http.get(run.api + "/orderbook", params={"symbol": run.symbol})
                if len(candles) >= 3 and book.status_code == 200:
                    return f"using {run.symbol}"
            expect(time.monotonic() < deadline, f"no candles and book within {seconds:g} s")
            time.sleep(1)

    run.check("api: candles and order book available", body)


def api_checks(run: Runner) -> None:
    def health() -> str:
        body = run.get(run.api, "/health")
        expect({"status", "timestamp", "database"} <= set(body), f"keys {sorted(body)}")
        expect(body["status"] in ("healthy", "degraded"), f"status {body['status']!r}")
        return str(body["status"])

    def symbols() -> str:
        found = run.get(run.api, "/symbols")["symbols"]
        expect(found == sorted(found) and len(found) > 0, f"symbols {found!r} not sorted/empty")
        return ", ".join(found)

    run.check("api: GET /health", health)
    run.check("api: GET /symbols", symbols)
    for timeframe in TIMEFRAMES:
        run.check(f"api: GET /candles timeframe={timeframe}", candles, run, timeframe)
    run.check("api: GET /candles with start_date is oldest first", oldest_first, run)
    run.check("api: GET /candles symbol is case-insensitive", lowercase, run)
    symbol = run.symbol
    candle_errors = [
        ({"timeframe": "1H"}, "symbol parameter is required"),
        ({"symbol": symbol, "timeframe": "7m"}, f"Invalid timeframe. Supported: {TIMEFRAMES}"),
        ({"symbol": symbol, "limit": "0"}, "limit must be between 1 and 5000"),
        ({"symbol": symbol, "limit": "5001"}, "limit must be between 1 and 5000"),
        ({"symbol": symbol, "limit": "ten"}, "limit must be an integer"),
        ({"symbol": symbol, "start_date": "yesterday"}, "Invalid start_date format"),
    ]
    for query, message in candle_errors:
        run.check(
            f"api: GET /candles {query} -> 400",
            run.error,
            run.api,
            "/candles",
            query,
            400,
            message,
        )
    for levels in (5, 10, 20):
        run.check(f"api: GET /orderbook levels={levels}", orderbook, run, levels)
    book_errors: list[tuple[dict[str, str], int, str]] = [
        ({"levels": "7"}, 400, "Invalid levels. Supported: [5, 10, 20]"),
        ({"levels": "many"}, 400, "levels must be an integer"),
        ({"symbol": "NOSUCHPAIR"}, 404, "No orderbook data available for this symbol"),
    ]
    for params, status, message in book_errors:
        query = {"symbol": run.symbol, **params}
        run.check(
            f"api: GET /orderbook {params} -> {status}",
            run.error,
            run.api,
            "/orderbook",
            query,
            status,
            message,
        )
    for timeframe in ("1", "1H", "1D"):
        run.check(f"api: GET /price timeframe={timeframe}", price, run, timeframe)
    run.check("api: UDF endpoints", udf, run)
    run.check("api: GET /openapi.json and /docs", documents, run, run.api, "/candles")


def candles(run: Runner, timeframe: str) -> str:
    rows = run.get(run.api, "/candles", {"symbol": run.symbol, "timeframe": timeframe, "limit": 5})
    expect(isinstance(rows, list) and 0 < len(rows) <= 5, f"{len(rows)} candles for limit=5")
    for row in rows:
        expect(set(row) == CANDLE_KEYS, f"candle keys {sorted(row)}")
        for key in CANDLE_KEYS - {"timestamp", "trades", "open_time", "close_time"}:
            plain(row[key], key)
        expect(isinstance(row["timestamp"], int) and isinstance(row["trades"], int), "ints")
        expect(row["open_time"].endswith("+00:00"), f"open_time {row['open_time']!r}")
        high, low = float(row["high_price"]), float(row["low_price"])
        expect(high >= low, f"high {high} < low {low}")
    stamps = [row["timestamp"] for row in rows]
    expect(
        stamps == sorted(stamps, reverse=True) and len(set(stamps)) == len(stamps),
        f"not newest first: {stamps}",
    )
    return f"{len(rows)} newest first, close {rows[0]['close_price']}"


def oldest_first(run: Runner) -> str:
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7 * 86400))
    rows = run.get(
        run.api,
        "/candles",
        {"symbol": run.symbol, "timeframe": "1", "limit": 50, "start_date": since},
    )
    stamps = [row["timestamp"] for row in rows]
    expect(len(stamps) > 1 and stamps == sorted(stamps), f"not oldest first: {stamps[:5]}")
    return f"{len(rows)} candles"


def lowercase(run: Runner) -> str:
    upper = run.get(run.api, "/candles", {"symbol": run.symbol, "timeframe": "1D", "limit": 2})
    lower = run.get(
        run.api, "/candles", {"symbol": run.symbol.lower(), "timeframe": "1D", "limit": 2}
    )
    expect([c["timestamp"] for c in upper] == [c["timestamp"] for c in lower], "pages differ")
    return "same page"


def orderbook(run: Runner, levels: int) -> str:
    book = run.get(run.api, "/orderbook", {"symbol": run.symbol, "levels": levels})
    expect(
        set(book) == {"symbol", "timestamp", "last_update_id", "bids", "asks"},
        f"keys {sorted(book)}",
    )
    expect(book["symbol"] == run.symbol, f"symbol {book['symbol']}")
    for side in ("bids", "asks"):
        expect(0 < len(book[side]) <= levels, f"{len(book[side])} {side} for levels={levels}")
        for level in book[side]:
            expect(set(level) == {"price", "quantity"}, f"level keys {sorted(level)}")
            plain(level["price"], "price")
            plain(level["quantity"], "quantity")
    bids = [float(level["price"]) for level in book["bids"]]
    asks = [float(level["price"]) for level in book["asks"]]
    expect(bids == sorted(bids, reverse=True), "bids not best (highest) first")
    expect(asks == sorted(asks), "asks not best (lowest) first")
    expect(bids[0] < asks[0], f"crossed book: bid {bids[0]} >= ask {asks[0]}")
    return f"spread {asks[0] - bids[0]:.8g}"


def price(run: Runner, timeframe: str) -> str:
    body = run.get(run.api, "/price", {"symbol": run.symbol, "timeframe": timeframe})
    keys = {
        "symbol",
        "timeframe",
        "current_price",
        "previous_price",
        "change_absolute",
        "change_percent",
        "trend",
        "timestamp",
        "volume",
    }
    expect(set(body) == keys, f"keys {sorted(body)}")
    for key in ("current_price", "previous_price", "change_absolute", "change_percent", "volume"):
        plain(body[key], key)
    change = float(body["change_absolute"])
    trend = "up" if change > 0 else "down" if change < 0 else "neutral"
    expect(body["trend"] == trend, f"trend {body['trend']} for change {change}")
    expect(body["timeframe"] == timeframe, f"timeframe {body['timeframe']}")
    return f"{body['current_price']} ({body['change_percent']}%)"


def udf(run: Runner) -> str:
    config = run.get(run.api, "/udf/config")
    expect("1D" in config["supported_resolutions"], "config without 1D")
    info = run.get(run.api, "/udf/symbols", {"symbol": run.symbol})
    expect(info["ticker"] == run.symbol, f"symbol info {info}")
    run.error(run.api, "/udf/symbols", {"symbol": "NOSUCHPAIR"}, 404, "unknown_symbol")
    found = run.get(run.api, "/udf/search", {"query": run.symbol[:3].lower()})
    expect(any(item["symbol"] == run.symbol for item in found), f"search found {found}")
    bars = run.get(
        run.api,
        "/udf/history",
        {"symbol": run.symbol, "resolution": "60", "countback": 5, "to": int(time.time())},
    )
    expect(bars["s"] == "ok", f"history {bars}")
    expect(len({len(bars[k]) for k in "tohlcv"}) == 1, "columns of different lengths")
    expect(bars["t"] == sorted(bars["t"]), "bars not oldest first")
    server = int(run.get(run.api, "/udf/time"))
    expect(abs(server - time.time()) < 60, f"server time {server}")
    return f"{len(bars['t'])} bars"


def documents(run: Runner, base: str, path: str) -> str:
    spec = run.get(base, "/openapi.json")
    expect(spec.get("openapi", "").startswith("3.1"), f"openapi {spec.get('openapi')}")
    expect(path in spec["paths"], f"{path} not documented")
    page = run.get(base, "/docs")
    expect(isinstance(page, str) and path in page, "docs page does not describe the API")
    return f"{len(spec['paths'])} paths"


# WebSocket ----------------------------------------------------------------------------------


def receive_json(ws: ClientConnection, seconds: float, want: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        expect(left > 0, f"no matching message within {seconds:g} s")
        try:
            message = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            continue
        if want(message):
            return message


def ws_checks(run: Runner) -> None:
    def candle_stream() -> str:
        url = f"{run.websocket}?symbol={run.symbol}&timeframe=5&type=candles"
        with connect(url, open_timeout=run.timeout) as ws:
            message = receive_json(ws, 30, lambda m: m.get("type") not in ("heartbeat", "pong"))
            for key in ("open", "high", "low", "close", "volume", "quote_volume"):
                plain(message[key], key)
            expect(message["symbol"] == run.symbol, f"symbol {message['symbol']}")
            expect(isinstance(message["trades"], int), "trades not an int")
            expect(message["timestamp"] % 300_000 == 0, f"not a 5m bucket: {message['timestamp']}")
            ws.send(json.dumps({"type": "ping"}))
            receive_json(ws, 10, lambda m: m.get("type") == "pong")
        return f"close {message['close']}, ping answered"

    def book_stream() -> str:
        url = f"{run.websocket}?symbol={run.symbol}&type=orderbook"
        with connect(url, open_timeout=run.timeout) as ws:
            book = receive_json(ws, 30, lambda m: "bids" in m)
        expect(book["symbol"] == run.symbol and book["bids"] and book["asks"], "empty book")
        for level in book["bids"] + book["asks"]:
            plain(level["price"], "price")
            plain(level["quantity"], "quantity")
        return f"{len(book['bids'])} bids, {len(book['asks'])} asks"

    def rejected(query: str, reason: str) -> str:
        with connect(f"{run.websocket}?{query}", open_timeout=run.timeout) as ws:
            try:
                ws.recv(timeout=10)
            except ConnectionClosed as closed:
                frame = closed.rcvd
                expect(frame is not None and frame.code == 1008, f"close frame {frame}")
                expect(frame is not None and frame.reason == reason, f"reason {frame}")
                return f"1008 {reason!r}"
        raise CheckFailed("the connection was not closed")

    run.check("ws: candles timeframe=5", candle_stream)
    run.check("ws: orderbook", book_stream)
    run.check(
        "ws: invalid timeframe closes 1008", rejected, "timeframe=7m", "Invalid timeframe: 7m"
    )
    run.check("ws: invalid type closes 1008", rejected, "type=trades", "Invalid type: trades")


# Order API ----------------------------------------------------------------------------------


def order_shape(order: dict[str, Any], keys: set[str]) -> None:
    expect(set(order) == keys, f"order keys {sorted(order)}")
    for key in ("amount_in", "target_price", "min_amount_out"):
        plain(order[key], key)
    for key in ("user_address", "token_in", "token_out"):
        expect(order[key] == to_checksum_address(order[key]), f"{key} not checksummed")
    expect(order["status"] in ("PENDING", "EXECUTED", "CANCELLED"), f"status {order['status']}")
    expect((order["executed_at"] is None) != (order["status"] == "EXECUTED"), "executed_at")


def order_list(run: Runner, path: str, expected: str | None = None, **params: str | int) -> Any:
    body = run.get(run.orders, path, params)
    expect(set(body) >= LIST_KEYS and body["status"] == "success", f"keys {sorted(body)}")
    ids = [order["id"] for order in body["orders"]]
    expect(ids == sorted(ids, reverse=True), f"not newest first: {ids[:10]}")
    for order in body["orders"]:
        order_shape(order, ORDER_KEYS)
        expect(expected is None or order["status"] == expected, f"{order['status']} in {path}")
    expect(len(ids) <= body["limit"], "more orders than the limit")
    return body


def order_checks(run: Runner) -> None:
    def health() -> str:
        body = run.get(run.orders, "/health")
        expect(body["status"] == "success", f"status {body.get('status')}")
        expect(body["overall_status"] == "healthy", f"overall {body['overall_status']}")
        expect(body["components"]["database_connection"] == "WORKING", "database not working")
        return f"lag {body['components'].get('lag_blocks')} blocks"

    run.check("orders: GET /health", health)
    for status in ("pending", "executed", "cancelled"):
        run.check(
            f"orders: GET /orders/{status}",
            listed,
            run,
            f"/orders/{status}",
            status.upper(),
            {},
        )
    run.check("orders: GET /orders/all", listed, run, "/orders/all", None, {})
    run.check(
        "orders: GET /orders/all?status=PENDING (case-insensitive)",
        listed,
        run,
        "/orders/all",
        "PENDING",
        {"status": "PENDING"},
    )
    clamps = [
        ({"limit": "0"}, 1, 0),
        ({"limit": "5000"}, 1000, 0),
        ({"limit": "-5"}, 1, 0),
        ({"offset": "-3"}, 100, 0),
        ({}, 100, 0),
    ]
    for params, limit, offset in clamps:

        def clamp(p: dict[str, str] = params, lim: int = limit, off: int = offset) -> str:
            body = order_list(run, "/orders/all", **p)
            seen = (body["limit"], body["offset"])
            expect(seen == (lim, off), f"limit, offset {seen}, wanted {lim}, {off}")
            return f"limit {lim}, offset {off}"

        run.check(f"orders: pagination clamp {params or 'defaults'}", clamp)
    run.check("orders: offset pages do not overlap", paging, run)
    errors = [
        (
            "/orders/all",
            {"status": "open"},
            400,
            "Invalid status. Use: pending, executed, cancelled",
        ),
        ("/orders/all", {"limit": "ten"}, 400, "Invalid limit. Must be a number."),
        ("/orders/abc", {}, 400, "Invalid order_id format. Must be a number."),
        (f"/orders/{NO_SUCH_ORDER}", {}, 404, f"Order {NO_SUCH_ORDER} not found"),
        (f"/orders/{NO_SUCH_ORDER}/events", {}, 404, f"Order {NO_SUCH_ORDER} not found"),
    ]
    for path, params, code, message in errors:
        run.check(
            f"orders: GET {path} {params or ''} -> {code}",
            run.error,
            run.orders,
            path,
            params,
            code,
            message,
        )
    run.check("orders: GET /users/{address}/orders", user_orders, run)
    run.check("orders: GET /orders/{id} and /orders/{id}/events", details, run)
    run.check("orders: GET /statistics", statistics, run)
    run.check("orders: GET /openapi.json and /docs", documents, run, run.orders, "/orders/all")


def listed(run: Runner, path: str, expected: str | None, params: Query) -> str:
    return f"{order_list(run, path, expected, **params)['total']} total"


def paging(run: Runner) -> str:
    # The demo trader may add orders between two requests: retry until nothing moved.
    for _ in range(5):
        first = order_list(run, "/orders/all", limit=2, offset=0)
        second = order_list(run, "/orders/all", limit=2, offset=2)
        both = order_list(run, "/orders/all", limit=4)
        if first["total"] == second["total"] == both["total"]:
            break
    pages = [o["id"] for o in first["orders"]] + [o["id"] for o in second["orders"]]
    expect(pages == [o["id"] for o in both["orders"]], f"pages {pages} != first four")
    expect(first["has_more"] == (first["total"] > 2), f"has_more with total {first['total']}")
    return f"{pages}"


def user_orders(run: Runner) -> str:
    run.error(
        run.orders,
        "/users/0x1234/orders",
        {},
        400,
        "Invalid address format. Must be 0x followed by 40 hex digits.",
    )
    orders = order_list(run, "/orders/all", limit=1)["orders"]
    user = orders[0]["user_address"] if orders else "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    body = order_list(run, f"/users/{user.lower()}/orders")
    expect(all(o["user_address"] == user for o in body["orders"]), "another user's order")
    expect(not orders or body["total"] >= 1, "the user's order is missing")
    return f"{body['total']} orders of {user}"


def details(run: Runner) -> str:
    orders = order_list(run, "/orders/all", limit=1)["orders"]
    if not orders:
        return "no orders yet: only the 404 answers were checked"
    order_id = orders[0]["id"]
    body = run.get(run.orders, f"/orders/{order_id}")
    expect(body["status"] == "success", "status")
    order_shape(body["order"], DETAIL_KEYS)
    events = run.get(run.orders, f"/orders/{order_id}/events")
    expect(events["order_id"] == order_id and events["total"] == len(events["events"]), "total")
    blocks = [e["block_number"] for e in events["events"]]
    expect(blocks == sorted(blocks), f"events not in chain order: {blocks}")
    expect(events["events"][0]["event_type"] == "CREATED", "first event is not CREATED")
    expect(all(isinstance(e["event_data"], dict) for e in events["events"]), "event_data")
    return f"order {order_id}: {len(blocks)} events"


def statistics(run: Runner) -> str:
    body = run.get(run.orders, "/statistics")
    stats = body["statistics"]
    expect(set(stats) == {"PENDING", "EXECUTED", "CANCELLED"}, f"statuses {sorted(stats)}")
    for counts in stats.values():
        expect(isinstance(counts["total"], int) and isinstance(counts["last_24h"], int), "ints")
    return ", ".join(f"{s} {c['total']}" for s, c in stats.items())


# Command line -------------------------------------------------------------------------------

GROUPS: dict[str, Callable[[Runner], None]] = {
    "API server REST": api_checks,
    "WebSocket": ws_checks,
    "Order API": order_checks,
}


def endpoints(args: argparse.Namespace) -> tuple[str, str, str]:
    api, orders, websocket = args.api, args.orders, None
    if args.stack:
        described = json.loads(Path(args.stack).read_text())["endpoints"]
        api = api or described["api-server"]
        orders = orders or described["order-api"]
        websocket = described.get("websocket")
    api = api or "http://127.0.0.1:8022"
    orders = orders or "http://127.0.0.1:8080"
    if websocket is None:
        parts = urlsplit(api)
        scheme = "wss" if parts.scheme == "https" else "ws"
        websocket = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/ws"
    return api, orders, websocket


def interactive(run: Runner) -> None:
    names = list(GROUPS)
    while True:
        for number, name in enumerate(names, 1):
            print(f"  {number}. {name}")
        choice = input("Run which group (number, 'a' for all, 'q' to quit)? ").strip().lower()
        if choice == "q":
            return
        if choice == "a":
            chosen = names
        elif choice.isdigit() and 0 < int(choice) <= len(names):
            chosen = [names[int(choice) - 1]]
        else:
            chosen = []
        for name in chosen:
            GROUPS[name](run)
        print(f"{run.passed} passed, {run.failed} failed so far")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--api", help="API server base URL (default http://127.0.0.1:8022)")
    parser.add_argument("--orders", help="order API base URL (default http://127.0.0.1:8080)")
    parser.add_argument("--stack", help="stack.json written by `python -m devstack up`")
    parser.add_argument("--wait", type=float, default=90, help="seconds to wait for data")
    parser.add_argument("--timeout", type=float, default=10, help="per-request timeout")
    parser.add_argument("--interactive", action="store_true", help="choose groups from a menu")
    args = parser.parse_args(argv)
    api, orders, websocket = endpoints(args)
    run = Runner(api, orders, websocket, args.timeout)
    print(f"api-server {api}, order API {orders}, WebSocket {websocket}")
    if not run.reachable():
        print("FAILED: the platform is not reachable", file=sys.stderr)
        return 1
    wait_for_data(run, args.wait)
    if args.interactive:
        interactive(run)
    else:
        for group in GROUPS.values():
            group(run)
    print(f"{run.passed} passed, {run.failed} failed")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
