"""OKX v5 payloads -> the collector's kline rows and stream events (pure).

REST candles and `candle1m` pushes share one row layout, newest first::

    [ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]

`vol` counts base currency on spot but contracts on swaps; `volCcy` is quote on spot and
base on swaps. The Binance layout wants base and quote volumes, so the base volume is
`vol` on spot and `volCcy` on swaps (contracts would need `ctVal` and would not compare with
spot), the quote volume `volCcyQuote` on both. OKX publishes no trade count and no taker
volumes: those fields are None. Only a row with confirm "1" is a finished minute
(docs/exchanges/okx.md sections 2, 3 and 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from data_collector.book_sync import Diff, WireLevel
from data_collector.venue_stream import BookDiff, BookSnapshot, Event, Reconnect
from linkora_core.candles import LiveCandle, parse_kline
from linkora_core.decimals import parse_decimal
from linkora_core.epoch import MINUTE_MS
from linkora_core.markets import Kind, Market, Venue

__all__ = [
    "BOOK_CHANNEL",
    "CANDLE_CHANNEL",
    "binance_row",
    "book_events",
    "candle_events",
    "closed_rows",
    "parse_frame",
]

CANDLE_CHANNEL = "candle1m"
BOOK_CHANNEL = "books"
SNAPSHOT_PREVIOUS = -1  # a books snapshot's prevSeqId
SERVICE_UPGRADE = "64008"  # notice: the connection closes soon, reconnect


def base_volume_index(venue: Venue) -> int:
    """Where a row holds the base-currency volume: `vol` on spot, `volCcy` on swaps."""
    return 6 if venue.kind is Kind.SWAP else 5


def binance_row(row: Sequence[Any], venue: Venue) -> list[Any]:
    """One OKX row in Binance's 12-field layout, decimals as sent::

        ["1764748740000","91852.3","91874","91850","91870.1","5.10233","468741.2",
         "468741.2","1"]   (spot BTC-USDT)
        -> [1764748740000, "91852.3", "91874", "91850", "91870.1", "5.10233",
            1764748799999, "468741.2", None, None, None, "0"]

    ValueError for a row not shaped as documented."""
    if len(row) != 9 or not all(isinstance(field, str) for field in row):
        raise ValueError(f"an OKX candle row has 9 strings: {str(row)[:120]}")
    ts = row[0]
    if not ts.isdigit() or len(ts) > 16:
        raise ValueError(f"candle ts {ts!r} is not epoch milliseconds")
    if row[8] not in ("0", "1"):
        raise ValueError(f"candle confirm {row[8]!r} is neither '0' nor '1'")
    open_ms = int(ts)
    volume = row[base_volume_index(venue)]
    return [open_ms, row[1], row[2], row[3], row[4], volume, open_ms + MINUTE_MS - 1, row[7],
            None, None, None, "0"]  # fmt: skip


def closed_rows(data: object, venue: Venue) -> list[list[Any]]:
    """The finished minutes (confirm "1") of a REST candles answer's `data`, oldest first::

        [["1764748800000","91870.1","91880","91861.2","91875.4","3.21845","295689.7",
          "295689.7","0"],
         ["1764748740000","91852.3","91874","91850","91870.1","5.10233","468741.2",
          "468741.2","1"]]
        -> [[1764748740000, "91852.3", ..., None, None, None, "0"]]

    The forming minute is left out: one whose end has passed but which OKX has not yet
    confirmed would otherwise be stored as closed. ValueError for a malformed answer."""
    if not isinstance(data, list):
        raise ValueError("candles data is not a list")
    out: list[list[Any]] = []
    for row in reversed(data):
        if not isinstance(row, list):
            raise ValueError(f"a candle row is not a list: {str(row)[:120]}")
        converted = binance_row(row, venue)
        if row[8] == "1":
            out.append(converted)
    return out


def candle_events(message: dict[str, Any], venue: Venue) -> list[Event]:
    """A `candle1m` push on /ws/v5/business::

        {"arg":{"channel":"candle1m","instId":"BTC-USDT-SWAP"},
         "data":[["1764748800000","91870.1","91880","91861.2","91875.4","321.8","3.218",
                  "295689.7","0"]]}

    One LiveCandle per row, closed when confirm is "1"."""
    market = Market(venue, _inst_id(message))
    events: list[Event] = []
    for row in _data(message):
        candle = parse_kline(binance_row(row, venue))
        events.append(LiveCandle(market, candle, row[8] == "1"))
    return events


def book_events(message: dict[str, Any], venue: Venue) -> list[Event]:
    """A `books` push on /ws/v5/public: a snapshot (prevSeqId -1) or an update::

        {"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{
          "asks":[["8476.98","415","0","13"],["8477","7","0","2"]],
          "bids":[["8476.97","256","0","12"],["8475.55","101","0","1"]],
          "ts":"1597026383085","checksum":-855196043,"prevSeqId":-1,"seqId":123456}]}
        {"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{
          "asks":[["8477","0","0","0"]],"bids":[["8476.5","3","0","1"]],
          "ts":"1597026383185","checksum":0,"prevSeqId":123456,"seqId":123457}]}

    Levels keep the price and size text (the checksum is computed over it); a checksum of 0
    means none (OKX sends 0 since June 2026)."""
    market = Market(venue, _inst_id(message))
    action = message.get("action")
    events: list[Event] = []
    for book in _data(message):
        if not isinstance(book, dict):
            raise ValueError("a books entry is not an object")
        seq, previous, checksum = book["seqId"], book["prevSeqId"], book.get("checksum", 0)
        if type(seq) is not int or type(previous) is not int or type(checksum) is not int:
            raise ValueError("seqId, prevSeqId and checksum must be integers")
        bids, asks = _levels(book["bids"]), _levels(book["asks"])
        if action == "snapshot":
            if previous != SNAPSHOT_PREVIOUS:
                raise ValueError(f"a snapshot with prevSeqId {previous}")
            events.append(BookSnapshot(market, seq, bids, asks))
        elif action == "update":
            diff = Diff(seq, seq, bids, asks, previous_id=previous, checksum=checksum or None)
            events.append(BookDiff(market, diff))
        else:
            raise ValueError(f"unknown books action {action!r}")
    return events


def parse_frame(text: str, venue: Venue) -> list[Event]:
    """The events of one text frame of either OKX connection: "pong" and acks give none, the
    service-upgrade notice a Reconnect; an error event raises ValueError (it is logged)::

        {"event":"notice","code":"64008","msg":"The connection will soon be closed for a
         service upgrade. Please reconnect.","connId":"a4d3ae55"}
        {"event":"error","code":"60012","msg":"Invalid request: ...","connId":"a4d3ae55"}
    """
    if text == "pong":
        return []
    message = orjson.loads(text)
    if not isinstance(message, dict):
        raise ValueError("an OKX frame is not an object")
    event = message.get("event")
    if event is not None:
        code, msg = message.get("code"), message.get("msg")
        if event == "notice" and code == SERVICE_UPGRADE:
            return [Reconnect(f"OKX notice {code}: {msg}")]
        if event == "error":
            raise ValueError(f"OKX error event {code}: {msg}")
        return []  # subscribe / unsubscribe acks, other notices
    channel = message["arg"]["channel"]
    if channel == CANDLE_CHANNEL:
        return candle_events(message, venue)
    if channel == BOOK_CHANNEL:
        return book_events(message, venue)
    raise ValueError(f"a push of channel {channel!r}, which is not subscribed")


def _inst_id(message: dict[str, Any]) -> str:
    inst_id = message["arg"]["instId"]
    if not isinstance(inst_id, str) or not inst_id:
        raise ValueError("a push without an instId")
    return inst_id


def _data(message: dict[str, Any]) -> list[Any]:
    data = message["data"]
    if not isinstance(data, list):
        raise ValueError("a push whose data is not a list")
    return data


def _levels(side: object) -> list[WireLevel]:
    if not isinstance(side, list):
        raise ValueError("book levels are not a list")
    out: list[WireLevel] = []
    for level in side:
        price, size = level[0], level[1]
        if not isinstance(price, str) or not isinstance(size, str):
            raise ValueError(f"a book level's price and size must be text: {level!r}")
        parse_decimal(price), parse_decimal(size)  # refused here, not inside the book
        out.append((price, size))
    return out
