"""Print the live order book (top levels and the spread) from the API server's WebSocket.

    python demo/orderbook_demo.py --symbol ETHUSDT --depth 5
    python demo/orderbook_demo.py --stack /tmp/run/stack.json --count 3

Exits 0 after --count books (or on Ctrl-C), 1 when the server is unreachable or closes the
connection."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import connect


def websocket_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    if args.stack:
        return str(json.loads(Path(args.stack).read_text())["endpoints"]["websocket"])
    return "ws://127.0.0.1:8022/ws"


def show(book: dict[str, Any], depth: int) -> str:
    bids, asks = book["bids"][:depth], book["asks"][:depth]
    lines = [f"{book['symbol']}  update {book['last_update_id']}  at {book['timestamp']} ms"]
    if bids and asks:
        best_bid, best_ask = Decimal(bids[0]["price"]), Decimal(asks[0]["price"])
        spread = best_ask - best_bid
        percent = spread * 100 / best_ask if best_ask else Decimal(0)
        lines.append(f"  spread {spread:f} ({percent:.4f}%)  mid {(best_bid + best_ask) / 2:f}")
    lines.append(f"  {'bid qty':>16} {'bid':>14} | {'ask':<14} {'ask qty':<16}")
    for i in range(max(len(bids), len(asks))):
        bid = bids[i] if i < len(bids) else {"price": "", "quantity": ""}
        ask = asks[i] if i < len(asks) else {"price": "", "quantity": ""}
        lines.append(
            f"  {bid['quantity']:>16} {bid['price']:>14} | {ask['price']:<14} {ask['quantity']:<16}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the live order book from /ws.")
    parser.add_argument("--url", help="WebSocket URL (default ws://127.0.0.1:8022/ws)")
    parser.add_argument("--stack", help="stack.json written by `python -m devstack up`")
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--depth", type=int, default=5, help="levels per side to print")
    parser.add_argument("--count", type=int, default=0, help="exit after N books (0: never)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait per message")
    args = parser.parse_args(argv)
    url = f"{websocket_url(args)}?symbol={args.symbol}&type=orderbook"
    try:
        with connect(url, open_timeout=10) as ws:
            print(f"connected to {url}", flush=True)
            received = 0
            while not args.count or received < args.count:
                message = json.loads(ws.recv(timeout=args.timeout))
                if message.get("type") == "heartbeat":
                    ws.send(json.dumps({"type": "pong"}))
                    continue
                if "bids" not in message:
                    continue
                print(show(message, args.depth), flush=True)
                received += 1
    except ConnectionClosed as closed:
        frame = closed.rcvd
        reason = f"{frame.code} {frame.reason}" if frame else "no close frame"
        print(f"error: the server closed the connection ({reason})", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"error: no order book within {args.timeout:g} s from {url}", file=sys.stderr)
        return 1
    except (OSError, InvalidHandshake, InvalidURI) as error:
        print(f"error: cannot connect to {url}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
