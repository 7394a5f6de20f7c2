"""`python -m outbox_relay`: publish the outbox table's messages to RabbitMQ."""

from __future__ import annotations

import asyncio

from linkora_core import lifecycle, logs, settings
from outbox_relay.service import RelayService
from outbox_relay.settings import RelaySettings


async def main(stop: asyncio.Event) -> None:
    config = settings.load(RelaySettings)
    logs.configure(config.log_level, "outbox-relay")
    service = RelayService(config, stop)
    try:
        await service.start()
        await stop.wait()
        await service.drain()
    finally:
        await service.close()


if __name__ == "__main__":
    lifecycle.run(main)
