"""The indexer's state in `system_state`: its keys, the shape of each value and their reading.

The indexer (events/store.py) writes these rows inside its batch transactions; the order API
reads them for `/health`. Both go through this one definition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from linkora_core.db import Executor

CHECKPOINT_KEY = "order_indexer.checkpoint"
CHAIN_KEY = "order_indexer.chain"
ALERT_KEY = "order_indexer.alert"
# Set with the alert when the processor halts; it stays halted until an operator clears it
# (`python -m order_system.events resume`), whatever restarts it.
HALT_KEY = "order_indexer.halt"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The last block whose events are applied, with its hash."""

    block: int
    hash: str | None

    @classmethod
    def from_value(cls, value: Any) -> Checkpoint:
        return cls(int(value["block"]), value.get("hash"))

    def value(self) -> dict[str, Any]:
        return {"block": self.block, "hash": self.hash}


def message(value: Any) -> str:
    """An alert's or a halt's text: both are stored as {"message": ...}."""
    return str(value["message"])


def message_value(text: str) -> dict[str, str]:
    return {"message": text}


async def get(db: Executor, key: str, *, lock: bool = False) -> Any:
    """The decoded value under `key` (None: no row); `lock`: FOR UPDATE, inside a transaction."""
    suffix = " FOR UPDATE" if lock else ""
    raw = await db.fetchval(f"SELECT value FROM system_state WHERE key = $1{suffix}", key)
    return None if raw is None else orjson.loads(raw)


@dataclass(frozen=True, slots=True)
class Progress:
    """What the API reports of the indexer: its checkpoint, when it last moved, its alert."""

    checkpoint: Checkpoint | None
    checkpoint_at: datetime | None
    alert: str | None


async def progress(db: Executor) -> Progress:
    rows = await db.fetch(
        "SELECT key, value, updated_at FROM system_state WHERE key = ANY($1::text[])",
        [CHECKPOINT_KEY, ALERT_KEY],
    )
    by_key = {row["key"]: row for row in rows}
    checkpoint, alert = by_key.get(CHECKPOINT_KEY), by_key.get(ALERT_KEY)
    return Progress(
        checkpoint=None if checkpoint is None else Checkpoint.from_value(_load(checkpoint)),
        checkpoint_at=None if checkpoint is None else checkpoint["updated_at"],
        alert=None if alert is None else message(_load(alert)),
    )


def _load(row: Any) -> Any:
    return orjson.loads(row["value"])
