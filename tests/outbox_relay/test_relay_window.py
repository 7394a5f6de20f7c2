"""The publish window (pure): only the confirmed prefix is marked, whatever order the
confirmations come in; a failure stops the prefix and the sending."""

from __future__ import annotations

import pytest

from outbox_relay.window import Window


def test_confirmations_in_order_are_taken_as_they_come() -> None:
    window = Window(3)
    for row_id in (1, 2, 3):
        window.sent(row_id)
    assert (window.full, window.in_flight) == (True, 3)
    window.settle(1, True)
    assert window.take_confirmed() == [1]
    assert (window.full, window.in_flight) == (False, 2)
    window.settle(2, True)
    window.settle(3, True)
    assert window.take_confirmed() == [2, 3]
    assert window.take_confirmed() == []
    assert window.in_flight == 0


def test_a_confirmation_behind_an_unsettled_row_waits_for_it() -> None:
    window = Window(10)
    for row_id in (5, 7, 9):
        window.sent(row_id)
    window.settle(9, True)
    window.settle(7, True)
    assert window.take_confirmed() == []
    assert window.in_flight == 3
    window.settle(5, True)
    assert window.take_confirmed() == [5, 7, 9]


def test_a_failure_ends_the_prefix_even_before_later_confirmations() -> None:
    window = Window(10)
    for row_id in (1, 2, 3, 4):
        window.sent(row_id)
    window.settle(1, True)
    window.settle(3, True)
    window.settle(2, False)
    window.settle(4, True)
    assert window.broken
    assert window.failed == 2
    assert window.take_confirmed() == [1]
    with pytest.raises(RuntimeError):
        window.sent(5)


def test_rows_must_be_sent_in_id_order() -> None:
    window = Window(10)
    window.sent(4)
    with pytest.raises(ValueError, match="out of order"):
        window.sent(3)


def test_a_window_holds_at_least_one_message() -> None:
    with pytest.raises(ValueError):
        Window(0)
