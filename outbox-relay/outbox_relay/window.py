"""The publish window (pure): the rows sent to the broker and not yet settled, in publishing
order, and the confirmed prefix the relay may mark published.

Only a prefix is marked: once a row fails (a nack, a lost connection, no confirmation in
time) every row after it is published again too, even one the broker confirmed, so that a
consumer keeps seeing each routing key's messages in outbox order after the repeat (the
repeats carry their first message id, and consumers drop ids they have seen)."""

from __future__ import annotations

from collections import deque


class Window:
    """`sent(id)` in publishing order; `settle(id, ok)` as confirmations arrive, in any
    order; `take_confirmed()` the ids confirmed without a gap since the last take."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a publish window needs room for one message, got {size}")
        self.size = size
        self._unsettled: deque[int] = deque()
        self._settled: dict[int, bool] = {}
        self._confirmed: list[int] = []
        self.failed: int | None = None

    @property
    def in_flight(self) -> int:
        """Messages sent whose prefix is not settled yet (a settled row behind an unsettled
        one still counts: its place in the prefix is not decided)."""
        return len(self._unsettled)

    @property
    def full(self) -> bool:
        return len(self._unsettled) >= self.size

    @property
    def broken(self) -> bool:
        """A row failed: send nothing more; what follows it is published again later."""
        return self.failed is not None

    def sent(self, row_id: int) -> None:
        if self.broken:
            raise RuntimeError("the window is broken: publish again from its first failure")
        if self._unsettled and row_id <= self._unsettled[-1]:
            raise ValueError(f"row {row_id} sent out of order after {self._unsettled[-1]}")
        self._unsettled.append(row_id)

    def settle(self, row_id: int, ok: bool) -> None:
        """The broker's answer for `row_id` (ok: confirmed; else nacked or lost)."""
        self._settled[row_id] = ok
        while not self.broken and self._unsettled and self._unsettled[0] in self._settled:
            head = self._unsettled.popleft()
            if self._settled.pop(head):
                self._confirmed.append(head)
            else:
                self.failed = head

    def take_confirmed(self) -> list[int]:
        """The confirmed prefix gathered since the last call, in publishing order."""
        taken, self._confirmed = self._confirmed, []
        return taken
