"""Print the live order book (top levels and the spread) from the API server's WebSocket.

    python demo/orderbook_demo.py --symbol ETHUSDT --depth 5
    python demo/orderbook_demo.py --stack /tmp/run/stack.json --count 3

Exits 0 after --count books (or on Ctrl-C), 1 when the server is unreachable or closes the
connection."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from typing import Any

from ws_stream import add_endpoint_arguments, print_stream, websocket_url


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
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--depth", type=int, default=5, help="levels per side to print")
    add_endpoint_arguments(parser)
    args = parser.parse_args(argv)
    url = f"{websocket_url(args)}?symbol={args.symbol}&type=orderbook"
    return print_stream(
        url, args, lambda m: "bids" in m, lambda m: show(m, args.depth), "order book"
    )


if __name__ == "__main__":
    sys.exit(main())
