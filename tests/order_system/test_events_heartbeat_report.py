"""What the event processor says in its heartbeat: standby without the writer lock, halted
after an alert, degraded while a task is down, and the blocks behind the head as backlog."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from linkora_core.tasks import BackgroundTasks
from order_system.events.health import IndexerState
from order_system.events.heartbeat_report import report
from order_system.events.processor import Processor


def test_a_processor_without_the_writer_lock_is_on_standby_with_no_backlog() -> None:
    beat = report(IndexerState(), BackgroundTasks("order-events"))
    assert (beat.state, beat.backlog) == ("standby", 0)
    assert beat.detail == {"head": -1, "processed": -1, "problems": {}}


def test_the_indexing_processor_reports_the_blocks_behind_the_head() -> None:
    # Only the two figures the report reads: a real Processor needs a node and a database.
    processor = cast(Processor, SimpleNamespace(head=120, processed=100))
    state = IndexerState(processor=processor, lock_held=True)
    beat = report(state, BackgroundTasks("order-events"))
    assert (beat.state, beat.backlog) == ("ok", 20)
    assert beat.detail == {"head": 120, "processed": 100, "problems": {}}
    state.halted = "reorg deeper than the window"
    assert report(state, BackgroundTasks("order-events")).state == "halted"


def test_a_processor_not_yet_told_the_head_has_no_backlog() -> None:
    processor = cast(Processor, SimpleNamespace(head=-1, processed=99))
    beat = report(IndexerState(processor=processor, lock_held=True), BackgroundTasks("x"))
    assert (beat.state, beat.backlog) == ("ok", 0)
