"""What `/admin` requests carry, validated before anything is written (pure): a market named
in a path or a body, a start date, an exchange's switch, a batch of runtime settings, the
purge confirmation and the audit page. Every failure is a BadRequest naming the problem."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from linkora_core import control_store, markets
from linkora_core.http import BadRequest
from linkora_core.markets import BINANCE_SPOT, Exchange, Market, Venue

MAX_TEXT: Final = 64
MAX_AUDIT_LIMIT: Final = 500
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
_BINANCE_SPOT_SYMBOL: Final = re.compile(r"[A-Z0-9]{2,20}")
_NEW_MARKET_FIELDS: Final = ("exchange", "kind", "symbol", "start_date")
_DIGITS: Final = re.compile(r"[0-9]{1,18}", re.ASCII)


def qualified(market: Market) -> str:
    """`exchange:kind:SYMBOL`, Binance spot included (what the purge confirmation spells)."""
    return market.qualified


def _text(value: object, name: str, *, required: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRequest(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    if len(value) > MAX_TEXT:
        raise BadRequest(f"{name} is too long")
    return value


def venue(exchange: object, kind: object) -> Venue:
    name = _text(exchange, "exchange", required=True)
    try:
        return markets.venue(name, _text(kind, "kind", required=False))
    except ValueError as problem:
        raise BadRequest(str(problem)) from None


def symbol(value: object, where: Venue) -> str:
    """A symbol as stored; Binance spot's keep their rule of 2-20 letters and digits."""
    raw = _text(value, "symbol", required=True) or ""
    try:
        parsed = markets.parse_symbol(raw)
    except ValueError as problem:
        raise BadRequest(str(problem)) from None
    if where == BINANCE_SPOT and not _BINANCE_SPOT_SYMBOL.fullmatch(parsed):
        raise BadRequest(
            f"invalid symbol {raw!r}: Binance spot symbols are 2-20 letters and digits"
        )
    return parsed


def market_of_path(params: Mapping[str, Any]) -> Market:
    """The market of `/admin/markets/{exchange}/{kind}/{symbol}`."""
    where = venue(params["exchange"], params["kind"])
    return Market(where, symbol(params["symbol"], where))


def exchange_of_path(params: Mapping[str, Any]) -> Exchange | None:
    """The exchange a path names (any letter case), None for one the platform does not know."""
    name = str(params["exchange"]).strip().lower()
    return Exchange(name) if name in {e.value for e in Exchange} else None


def start_date(value: object, now: datetime) -> datetime | None:
    """An ISO-8601 date or date-time (`Z` allowed, naive is UTC), not after `now`."""
    text = _text(value, "start_date", required=False)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("start_date must be an ISO-8601 date or date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment > now:
        raise BadRequest("start_date must not be in the future")
    if moment < EARLIEST:
        raise BadRequest("start_date must not be before 1970")
    return moment.astimezone(UTC)


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def new_market(body: object, now: datetime) -> tuple[Market, datetime | None]:
    """`{"exchange", "kind"?, "symbol", "start_date"?}`: the market and its start, if any."""
    fields = _object(body)
    unknown = sorted(set(fields) - set(_NEW_MARKET_FIELDS))
    if unknown:
        raise BadRequest(f"unknown fields {unknown}; allowed: {list(_NEW_MARKET_FIELDS)}")
    where = venue(fields.get("exchange"), fields.get("kind"))
    return Market(where, symbol(fields.get("symbol"), where)), start_date(
        fields.get("start_date"), now
    )


def enabled(body: object) -> bool:
    """`{"enabled": true|false}`."""
    fields = _object(body)
    if set(fields) != {"enabled"} or not isinstance(fields["enabled"], bool):
        raise BadRequest('the body must be {"enabled": true} or {"enabled": false}')
    return fields["enabled"]


def settings_patch(body: object) -> dict[str, int | float]:
    """`{"name": value, ...}`: every value parsed, or a BadRequest naming the first bad one."""
    fields = _object(body)
    if not fields:
        raise BadRequest(f"no setting given; settings: {sorted(control_store.SETTINGS)}")
    parsed: dict[str, int | float] = {}
    for name, value in fields.items():
        # JSON true is no number, though Python's bool is an int.
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise BadRequest(f"{name} must be a number")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise BadRequest(f"{name} is too long")
        try:
            parsed[name] = control_store.parse_setting(name, str(value))
        except ValueError as problem:
            raise BadRequest(str(problem)) from None
    return parsed


def check_confirmation(market: Market, confirm: str | None) -> None:
    """A purge names its market again, exactly as `exchange:kind:SYMBOL`."""
    expected = qualified(market)
    if confirm is None or not confirm.strip():
        raise BadRequest(f"confirm is required: confirm={expected} purges that market's data")
    if confirm.strip() != expected:
        raise BadRequest(f"confirm must be {expected} to purge that market's data")


def _integer(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or not raw.strip():
        return None
    if not _DIGITS.fullmatch(raw.strip()):
        raise BadRequest(f"{name} must be a positive integer")
    return int(raw.strip())


def audit_page(query: Mapping[str, str]) -> tuple[int, int | None]:
    """`limit` (1-500, default 50) and `before` (an entry id: the entries older than it)."""
    limit = _integer(query, "limit")
    if limit is None:
        limit = 50
    if not 1 <= limit <= MAX_AUDIT_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_AUDIT_LIMIT}")
    before = _integer(query, "before")
    if before is not None and before < 1:
        raise BadRequest("before must be a positive integer")
    return limit, before
