"""Query and path parameters of the order API, validated into typed values or a BadRequest
(400) whose message clients already know."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from linkora_core.http import BadRequest

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
MAX_ID = 2**63 - 1
# Deeper pages cost PostgreSQL a scan of every row skipped: they are served by the cursor.
MAX_OFFSET = 10_000
# Any bigint fits in 19 digits, any uint256 (an order id on the contract) in 78; longer numbers
# are refused before int() sees them (int() of over 4,300 digits raises, and its cost grows
# with the length).
MAX_DIGITS, MAX_ID_DIGITS = 20, 78
STATUSES = {"pending": "PENDING", "executed": "EXECUTED", "cancelled": "CANCELLED"}
INVALID_STATUS = "Invalid status. Use: pending, executed, cancelled"
INVALID_ORDER_ID = "Invalid order_id format. Must be a number."
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}", re.ASCII)
SORTS = ("newest", "oldest", "newest_executed", "oldest_executed")
INVALID_SORT = f"Invalid sort. Use: {', '.join(SORTS)}"
# ASCII digits only: `\d` also matches other scripts' digits, which int() accepts.
_INTEGER = re.compile(r"[ \t]*[+-]?([0-9]+)[ \t]*", re.ASCII)


def _integer(value: str, message: str, digits: int = MAX_DIGITS) -> int:
    found = _INTEGER.fullmatch(value) if len(value) <= digits + 8 else None
    if found is None or len(found[1]) > digits:
        raise BadRequest(message)
    return int(value)


def limit(query: QueryParams) -> int:
    raw = query.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, _integer(raw, "Invalid limit. Must be a number.")))


def offset(query: QueryParams) -> int:
    raw = query.get("offset")
    if raw is None or raw == "":
        return 0
    value = max(0, _integer(raw, "Invalid offset. Must be a number."))
    if value > MAX_OFFSET:
        raise BadRequest(
            f"Offset too deep (at most {MAX_OFFSET}). Page with cursor: pass the next_cursor "
            "of the previous page."
        )
    return value


def cursor(query: QueryParams) -> int | None:
    """Keyset cursor: the `next_cursor` of the previous page (list only ids below it)."""
    raw = query.get("cursor")
    if raw is None or raw == "":
        return None
    value = _integer(raw, "Invalid cursor. Use the next_cursor of the previous page.")
    if value < 1:
        raise BadRequest("Invalid cursor. Use the next_cursor of the previous page.")
    return min(value, MAX_ID)


def status(query: QueryParams) -> str | None:
    raw = query.get("status")
    if raw is None or raw == "":
        return None
    found = STATUSES.get(raw.strip().lower())
    if found is None:
        raise BadRequest(INVALID_STATUS)
    return found


def address(raw: str) -> str:
    if not _ADDRESS.match(raw):
        raise BadRequest("Invalid address format. Must be 0x followed by 40 hex digits.")
    return raw.lower()


def order_id(raw: str) -> int:
    return _integer(raw, INVALID_ORDER_ID, MAX_ID_DIGITS)


def _given(query: QueryParams, name: str) -> str | None:
    raw = query.get(name)
    return None if raw is None or raw == "" else raw


def address_param(query: QueryParams, name: str) -> str | None:
    """An optional address query parameter, any letter case: lowercase."""
    raw = _given(query, name)
    if raw is None:
        return None
    if not _ADDRESS.match(raw) or len(raw) != 42:
        raise BadRequest(f"Invalid {name}. Must be 0x followed by 40 hex digits.")
    return raw.lower()


def hash_param(query: QueryParams, name: str) -> str | None:
    raw = _given(query, name)
    if raw is None:
        return None
    if not _HASH.fullmatch(raw):
        raise BadRequest(f"Invalid {name}. Must be 0x followed by 64 hex digits.")
    return raw.lower()


def time_param(query: QueryParams, name: str) -> datetime | None:
    """An ISO 8601 time (`2026-12-01`, `2026-12-01T10:00:00Z`, with any offset); without an
    offset it is UTC."""
    raw = _given(query, name)
    if raw is None:
        return None
    try:
        if len(raw) > 40 or not raw.isascii():
            raise ValueError(raw)
        value = datetime.fromisoformat(raw)
        # In UTC here: an offset that moves year 1 or 9999 out of range is refused now.
        return value.replace(tzinfo=value.tzinfo or UTC).astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest(
            f"Invalid {name}. Use an ISO 8601 time such as 2026-12-01T10:00:00Z."
        ) from None


def time_range(query: QueryParams, prefix: str) -> tuple[datetime | None, datetime | None]:
    """`{prefix}_from` (inclusive) and `{prefix}_to` (exclusive); from after to is a 400."""
    start, end = time_param(query, f"{prefix}_from"), time_param(query, f"{prefix}_to")
    if start is not None and end is not None and start > end:
        raise BadRequest(f"Invalid time range: {prefix}_from is after {prefix}_to.")
    return start, end


def sort(query: QueryParams) -> str:
    raw = _given(query, "sort")
    if raw is None:
        return SORTS[0]
    found = raw.strip().lower()
    if found not in SORTS:
        raise BadRequest(INVALID_SORT)
    return found
