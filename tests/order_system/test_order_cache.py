"""The processor's cache of order rows: what it holds, and what it drops when full."""

from __future__ import annotations

from test_decoding import CREATED, GET_ORDER_2
from test_transitions import DECIMALS, _event

from order_system.events.decoding import decode_get_order
from order_system.events.order_cache import OrderCache
from order_system.events.transitions import OrderRow, event_row, transition


def _row(order_id: int) -> OrderRow:
    snapshot = decode_get_order(GET_ORDER_2)._replace(id=order_id)
    created = event_row(_event(CREATED, order_id), None, 100, DECIMALS.__getitem__, snapshot)
    return transition(None, created)


def test_rows_returns_only_the_orders_it_holds() -> None:
    cache = OrderCache()
    cache.update({1: _row(1), 2: _row(2)})
    assert cache.rows([2, 3]) == {2: _row(2)}
    assert 2 in cache and 3 not in cache
    assert cache.rows([]) == {}


def test_a_full_cache_drops_the_orders_prepared_longest_ago() -> None:
    cache = OrderCache(limit=3)
    cache.update({1: _row(1), 2: _row(2), 3: _row(3)})
    cache.update({1: _row(1)})  # prepared again: now the most recent
    cache.update({4: _row(4), 5: _row(5)})
    assert len(cache) == 3
    assert cache.rows(range(1, 6)).keys() == {1, 4, 5}


def test_an_update_replaces_the_row_held() -> None:
    cache = OrderCache()
    cache.update({7: _row(7)})
    cancelled = _row(7)._replace(status="CANCELLED")
    cache.update({7: cancelled})
    assert cache.rows([7]) == {7: cancelled}


def test_clear_forgets_everything() -> None:
    cache = OrderCache()
    cache.update({1: _row(1)})
    cache.clear()
    assert len(cache) == 0 and cache.rows([1]) == {}
