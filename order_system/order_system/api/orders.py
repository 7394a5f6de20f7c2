"""Order endpoints: lists (offset or keyset cursor, filters and sorts), details, events,
statistics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from starlette.requests import Request
from starlette.routing import Route

from linkora_core.http import JSON, error
from order_system.api import csv_export, listing, params, queries, serialize


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def _list(request: Request, status: str | None, user: str | None = None) -> JSON:
    query = request.query_params
    found = listing.read(query, status, user)
    page = listing.page(found, query)
    pool = _pool(request)
    rows = await queries.list_orders(pool, found.filter, page, found.sort)
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    # Counting a list with the newer filters would read every matching row.
    total = await queries.count_orders(pool, found.filter) if found.filter.legacy else None
    return JSON(
        {
            "orders": [serialize.order(row) for row in rows],
            "total": total,
            "limit": page.limit,
            "offset": page.offset,
            "has_more": has_more,
            "next_cursor": listing.encode(found, rows[-1]) if rows and has_more else None,
            "status": "success",
        }
    )


def _handler(
    fixed_status: str | None = None, by_status: bool = False
) -> Callable[[Request], Awaitable[JSON]]:
    async def handle(request: Request) -> JSON:
        status = fixed_status or (params.status(request.query_params) if by_status else None)
        return await _list(request, status)

    return handle


async def user_orders(request: Request) -> JSON:
    user = params.address(request.path_params["address"])
    return await _list(request, params.status(request.query_params), user)


async def order_details(request: Request) -> JSON:
    order_id = params.order_id(request.path_params["order_id"])
    row = None
    if 0 < order_id <= params.MAX_ID:
        row = await queries.order_details(_pool(request), order_id)
    if row is None:
        return error(f"Order {order_id} not found", 404)
    return JSON({"order": serialize.order_details(row), "status": "success"})


async def order_events(request: Request) -> JSON:
    order_id = params.order_id(request.path_params["order_id"])
    rows = []
    if 0 < order_id <= params.MAX_ID:
        rows = await queries.order_events(_pool(request), order_id)
    if not rows:
        return error(f"Order {order_id} not found", 404)
    events = [serialize.event(row) for row in rows]
    return JSON({"order_id": order_id, "events": events, "total": len(events), "status": "success"})


async def statistics(request: Request) -> JSON:
    rows = await request.app.state.statistics.get()  # queries.statistics, cached briefly
    return JSON(
        {
            "statistics": {
                row["status"]: {"total": row["total"], "last_24h": row["last_24h"]} for row in rows
            },
            "status": "success",
        }
    )


routes = [
    Route("/orders/pending", _handler("PENDING")),
    Route("/orders/executed", _handler("EXECUTED")),
    Route("/orders/cancelled", _handler("CANCELLED")),
    Route("/orders/all", _handler(by_status=True)),
    Route("/users/{address}/orders", user_orders),
    Route("/users/{address}/orders.csv", csv_export.user_orders_csv),
    Route("/orders/{order_id}", order_details),
    Route("/orders/{order_id}/events", order_events),
    Route("/statistics", statistics),
]
