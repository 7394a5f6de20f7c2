"""`python -m order_system.events`: index the Trading contract's order events into PostgreSQL.

After an alert (a reorg deeper than the window, another chain or contract) it stays up and
halted, the halt kept in the database across restarts, until an operator lifts it:

    python -m order_system.events resume

(with the service's settings), which prints the halt it lifted; a running processor then
indexes again."""

from __future__ import annotations

import asyncio
import sys

from linkora_core import db, lifecycle, logs, settings
from order_system.events import store
from order_system.events.service import EventService
from order_system.settings import EventSettings

USAGE = "usage: python -m order_system.events [resume]"


async def main(stop: asyncio.Event) -> None:
    config = settings.load(EventSettings)
    logs.configure(config.log_level, "order-events")
    service = EventService(config, stop)
    try:
        await service.start()
        await stop.wait()
        await service.drain()
    finally:
        await service.close()


async def resume() -> str | None:
    """Lift the halt; returns its message (None: nothing was halted)."""
    config = settings.load(EventSettings)
    pool = await db.connect_pool(config.db_dsn, min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            return await store.clear_halt(connection)
    finally:
        await pool.close()


def run(argv: list[str]) -> int:
    if not argv:
        lifecycle.run(main)
        return 0
    if argv == ["resume"]:
        lifted = asyncio.run(resume())
        print(f"resumed; the halt lifted was: {lifted}" if lifted else "not halted; nothing to do")
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
