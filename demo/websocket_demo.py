"""Print live candles from the API server's WebSocket, for any symbol and timeframe.

    python demo/websocket_demo.py --symbol BTCUSDT --timeframe 5
    python demo/websocket_demo.py --stack /tmp/run/stack.json --timeframe 1H --count 3

Exits 0 after --count candles (or on Ctrl-C), 1 when the server is unreachable or closes
the connection (an invalid timeframe is closed with code 1008 and the reason)."""

from __future__ import annotations

import argparse
import sys
import time

from ws_stream import add_endpoint_arguments, print_stream, websocket_url

TIMEFRAMES = ["1", "3", "5", "15", "30", "45", "1H", "2H", "3H", "4H", "1D", "1W", "1M"]


def show(candle: dict[str, object]) -> str:
    opened = time.strftime("%Y-%m-%d %H:%M", time.gmtime(int(str(candle["timestamp"])) / 1000))
    state = "closed" if candle.get("closed") else "open"
    return (
        f"{candle['symbol']} {candle.get('timeframe', '?'):>3} {opened} UTC  "
        f"O {candle['open']}  H {candle['high']}  L {candle['low']}  C {candle['close']}  "
        f"V {candle['volume']}  trades {candle['trades']}  ({state})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print live candles from /ws.")
    parser.add_argument("--symbol", default="BTCUSDT", help="a symbol, or `all`")
    parser.add_argument("--timeframe", default="1", help=f"one of {' '.join(TIMEFRAMES)}")
    add_endpoint_arguments(parser)
    args = parser.parse_args(argv)
    url = f"{websocket_url(args)}?symbol={args.symbol}&timeframe={args.timeframe}&type=candles"
    return print_stream(url, args, lambda m: m.get("type") not in ("pong", "error"), show, "candle")


if __name__ == "__main__":
    sys.exit(main())
