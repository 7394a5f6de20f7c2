"""What the api-server says in its heartbeat: degraded while a background task is down; its
backlog is the bytes its WebSocket clients have yet to be sent."""

from __future__ import annotations

from api_server.ws_hub import Hub
from linkora_core.heartbeat import Report
from linkora_core.tasks import BackgroundTasks


def report(hub: Hub, tasks: BackgroundTasks) -> Report:
    problems = tasks.problems()
    return Report(
        "degraded" if problems else "ok",
        backlog=hub.pending_bytes,
        detail={"ws_clients": hub.clients, "problems": problems},
    )
