"""A list request's filter, sort and keyset cursor, read from its query parameters.

A list with only the filters of old (status, user) and the default sort pages with the id of
its last order as the cursor, as it always has. Any other list pages with an opaque cursor that
carries the last order's sort key and a fingerprint of the filter and sort it was made for: a
cursor used with other parameters is a 400, never a page of another list."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
from starlette.datastructures import QueryParams

from linkora_core.http import BadRequest
from order_system.api import params
from order_system.api.queries import Filter, Page, Sort

WRONG_CURSOR = (
    "This cursor belongs to another filter or sort order: keep the parameters of the page "
    "that gave it, or start again without cursor."
)
INVALID_CURSOR = "Invalid cursor. Use the next_cursor of the previous page."
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter: Filter
    sort: Sort

    @property
    def legacy(self) -> bool:
        """Paged by order id as before 0009: the same SQL, cursor and `total`."""
        return self.filter.legacy and self.sort == Sort()

    def fingerprint(self) -> str:
        described = [
            value.isoformat() if isinstance(value, datetime) else value
            for value in (*astuple(self.filter), *astuple(self.sort))
        ]
        return hashlib.sha256(orjson.dumps(described)).hexdigest()[:16]


def read(query: QueryParams, status: str | None = None, user: str | None = None) -> ListQuery:
    """The filter and sort of a list whose status and user the route has already read."""
    token_in = params.address_param(query, "token_in")
    token_out = params.address_param(query, "token_out")
    if (token_in is None) != (token_out is None):
        raise BadRequest("token_in and token_out go together: pass both (a token pair).")
    created = params.time_range(query, "created")
    executed = params.time_range(query, "executed")
    flt = Filter(
        status=status,
        user=user,
        token_in=token_in,
        token_out=token_out,
        tx_hash=params.hash_param(query, "tx_hash"),
        executor=params.address_param(query, "executor"),
        created_from=created[0],
        created_to=created[1],
        executed_from=executed[0],
        executed_to=executed[1],
    )
    name = params.sort(query)
    descending = name.startswith("newest")
    if name.endswith("_executed"):
        return ListQuery(flt, Sort("executed_at", descending))
    # Creation order is id order; with a creation-time range the created_at index serves it.
    return ListQuery(flt, Sort("created_at" if flt.created_range else "id", descending))


def _microseconds(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def encode(listing: ListQuery, row: asyncpg.Record) -> str:
    """The cursor after `row`, the last order of a page."""
    if listing.legacy:
        return str(row["id"])
    column = listing.sort.column
    key = None if column == "id" else _microseconds(row[column])
    payload = orjson.dumps([listing.fingerprint(), key, row["id"]])
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


def _decode(raw: str) -> list[object] | None:
    if len(raw) > 200 or not raw.isascii():
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        return None
    return payload if isinstance(payload, list) and len(payload) == 3 else None


def _whole(value: object, low: int, high: int) -> int | None:
    """`value` when it is a JSON integer in low..high (not a boolean), else None."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def page(listing: ListQuery, query: QueryParams) -> Page:
    """The page asked for: `limit`, and `cursor` (then `offset` is ignored) or `offset`."""
    raw = query.get("cursor") or ""
    if listing.legacy:
        try:
            before = params.cursor(query)
        except BadRequest:
            if _decode(raw) is not None:
                raise BadRequest(WRONG_CURSOR) from None
            raise
        limit = params.limit(query)
        return Page(limit, 0 if before else params.offset(query), before_id=before)
    if not raw:
        return Page(params.limit(query), params.offset(query))
    payload = _decode(raw)
    if payload is None:
        # An order id is the cursor of a list without these parameters.
        raise BadRequest(WRONG_CURSOR if raw.strip().lstrip("+-").isdigit() else INVALID_CURSOR)
    limit = params.limit(query)
    fingerprint, key, after_id = payload
    if fingerprint != listing.fingerprint():
        raise BadRequest(WRONG_CURSOR)
    last_id = _whole(after_id, 0, params.MAX_ID)
    if last_id is None:
        raise BadRequest(INVALID_CURSOR)
    if listing.sort.column == "id":
        if key is not None:
            raise BadRequest(INVALID_CURSOR)
        return Page(limit, 0, after=(None, last_id))
    microseconds = _whole(key, -(2**62), 2**62)
    if microseconds is None:
        raise BadRequest(INVALID_CURSOR)
    try:
        after = _EPOCH + timedelta(microseconds=microseconds)
    except OverflowError:  # past year 9999
        raise BadRequest(INVALID_CURSOR) from None
    return Page(limit, 0, after=(after, last_id))
