"""Optional health and Prometheus metrics endpoint of the processor (METRICS_PORT)."""

from __future__ import annotations

import time

from aiohttp import web

from order_system.events.processor import Processor


def _numbers(processor: Processor) -> dict[str, float]:
    lag = max(0, processor.head - processor.processed) if processor.head >= 0 else -1
    return {
        "order_indexer_chain_head": processor.head,
        "order_indexer_processed_block": processor.processed,
        "order_indexer_lag_blocks": lag,
        "order_indexer_events_applied_total": processor.events_applied,
        "order_indexer_seconds_since_progress": round(
            time.monotonic() - processor.last_progress, 3
        ),
        "order_indexer_range_size": processor.sizer.size,
    }


async def start(processor: Processor, host: str, port: int) -> web.AppRunner:
    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "success", **_numbers(processor)})

    async def metrics(_: web.Request) -> web.Response:
        lines = [f"{name} {value}" for name, value in _numbers(processor).items()]
        return web.Response(text="\n".join(lines) + "\n")

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
