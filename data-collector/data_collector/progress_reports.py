"""A market's backfill as the `progress_messages.ProgressReport`s the collector publishes on
`bus.PROGRESS` (pure): `running` at least once a second while it backfills, then one that
ends it (`done`, `error` with the error, `removed`)."""

from __future__ import annotations

import dataclasses

from data_collector.progress import Progress
from linkora_core.epoch import to_datetime
from linkora_core.markets import Market
from linkora_core.progress_messages import ProgressReport, Status


def running(progress: Progress) -> ProgressReport:
    since = to_datetime(progress.from_ms).strftime("%Y-%m-%d %H:%M")
    return _report(progress.market, progress, "running", f"backfilling from {since} UTC")


def done(progress: Progress) -> ProgressReport:
    report = _report(progress.market, progress, "done", "backfill done; collecting in real time")
    return dataclasses.replace(report, done=report.total, eta_seconds=0)


def ended(
    market: Market, progress: Progress | None, status: Status, message: str
) -> ProgressReport:
    """A backfill ended otherwise (`error`, `removed`), with what it had covered."""
    return _report(market, progress, status, message)


def _report(
    market: Market, progress: Progress | None, status: Status, message: str
) -> ProgressReport:
    if progress is None:
        return ProgressReport(market, status, message, 0, 0, 0, None)
    eta = progress.eta_seconds
    return ProgressReport(
        market,
        status,
        message,
        progress.done,
        progress.total,
        int(progress.rate),
        None if eta is None else round(eta),
    )
