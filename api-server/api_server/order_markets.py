"""Which market's chart shows the orders of which DEX token pair (the `ORDER_MARKETS` setting).

A pair is written base first, `0xBASE/0xQUOTE=ETHUSDT`: orders either way between the two
tokens show on that market, selling the base when it is the token paid in and buying it when
it is the token paid out. Several pairs may share one market (ETH and WETH against USDT)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import orjson

_ADDRESS = re.compile(r"0x[0-9a-f]{40}", re.ASCII)
_SYMBOL = re.compile(r"[A-Z0-9]{2,20}", re.ASCII)
FORMAT = "`0xBASE/0xQUOTE=SYMBOL` entries, comma-separated, or a JSON object of them"


@dataclass(frozen=True, slots=True)
class Pair:
    """Two token addresses, lowercase as the order index stores them."""

    base: str
    quote: str

    @property
    def key(self) -> str:
        return f"{self.base}/{self.quote}"


def _address(text: str, entry: str) -> str:
    address = text.strip().lower()
    if not _ADDRESS.fullmatch(address):
        raise ValueError(f"{entry!r}: {text.strip()!r} is not a 0x-prefixed 40-hex-digit address")
    return address


def _entries(value: object) -> list[tuple[str, object]]:
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items()]
    if not isinstance(value, str):
        raise ValueError(f"expected {FORMAT}")
    text = value.strip()
    if text.startswith(("{", "[")):
        try:
            loaded = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ValueError(f"not valid JSON; expected {FORMAT}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"expected {FORMAT}")
        return list(loaded.items())
    entries: list[tuple[str, object]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, symbol = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r} has no `=SYMBOL`; expected {FORMAT}")
        entries.append((key, symbol))
    return entries


def parse(value: object) -> dict[str, str]:
    """The mapping normalised to `{"0xbase/0xquote": "SYMBOL"}`; ValueError naming the bad
    entry. A pair may appear once, in either order."""
    mapping: dict[str, str] = {}
    seen: dict[frozenset[str], str] = {}
    for key, raw_symbol in _entries(value):
        entry = f"{key}={raw_symbol}"
        base, sep, quote = key.partition("/")
        if not sep:
            raise ValueError(f"{entry!r}: the pair must be `0xBASE/0xQUOTE`")
        pair = Pair(_address(base, entry), _address(quote, entry))
        if pair.base == pair.quote:
            raise ValueError(f"{entry!r}: base and quote are the same token")
        symbol = raw_symbol.strip().upper() if isinstance(raw_symbol, str) else ""
        if not _SYMBOL.fullmatch(symbol):
            raise ValueError(f"{entry!r}: the market must be a symbol like ETHUSDT")
        tokens = frozenset((pair.base, pair.quote))
        if tokens in seen:
            raise ValueError(f"{entry!r}: this token pair is already mapped to {seen[tokens]}")
        seen[tokens] = symbol
        mapping[pair.key] = symbol
    return mapping


def pairs_by_symbol(mapping: Mapping[str, str]) -> dict[str, tuple[Pair, ...]]:
    """`parse`'s normalised mapping turned round: each market's pairs."""
    found: dict[str, list[Pair]] = {}
    for key, symbol in mapping.items():
        base, _, quote = key.partition("/")
        found.setdefault(symbol, []).append(Pair(base, quote))
    return {symbol: tuple(pairs) for symbol, pairs in found.items()}
