"""Per-topic sequence numbers on the WebSocket's candle and book messages (pure).

Every api-server replica must give the same message the same `seq` without talking to the
others, so the number is taken from the data, never from a counter of the process:

- a candle's `seq` is its bucket's open time in epoch ms (its `timestamp`). Closed candles of
  one topic (market and timeframe) have strictly increasing seqs, one per bucket, the same on
  every replica; open-bucket updates carry the seq of the bucket they will close as (versions
  of one bucket: the newest supersedes, `closed: true` is final). A client keeps the seq of the
  last closed candle it saw and resumes with it (`since`).
- a book's `seq` is the exchange's `last_update_id`: increasing per market while the venue's
  stream lives (a venue restart may start it again lower).

`seq` is added as the last field: every existing field keeps its exact bytes and order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from api_server.wire import ws_candle
from linkora_core import market_messages
from linkora_core.candles import Candle
from linkora_core.markets import Market


def candle_text(market: Market, candle: Candle, *, closed: bool) -> str:
    """The WebSocket candle message, live or replayed (the same bytes either way)."""
    return orjson.dumps(
        {**ws_candle(market, candle, closed=closed), "seq": candle.open_time_ms}
    ).decode()


def book_text(data: bytes, message: Mapping[str, Any]) -> str:
    """The collector's book message `data` (decoded as `message`) with its seq appended;
    ValueError when it has no integer update id or is not a JSON object's text."""
    update_id = message.get("last_update_id")
    if type(update_id) is not int:
        raise ValueError("a book's last_update_id is an integer")
    text = data.decode().rstrip()
    if not text.endswith("}"):
        raise ValueError("a book message is a JSON object")
    return f'{text[:-1]},"seq":{update_id}}}'


@dataclass(frozen=True, slots=True)
class Mark:
    """What a held message is, to tell whether a replay already covered it."""

    stream: str
    market: Market
    timeframe: str
    seq: int
    closed: bool


def mark_of(text: str) -> Mark | None:
    """The mark of a candle or book message; None for any other message."""
    try:
        message = orjson.loads(text)
        if not isinstance(message, dict) or type(message.get("seq")) is not int:
            return None
        market = market_messages.market_of(message)
    except (orjson.JSONDecodeError, KeyError, ValueError):
        return None
    timeframe = message.get("timeframe")
    if isinstance(timeframe, str) and "closed" in message:
        return Mark("candles", market, timeframe, message["seq"], message["closed"] is True)
    return Mark("orderbook", market, "", message["seq"], False)
