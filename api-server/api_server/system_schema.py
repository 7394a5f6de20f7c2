"""The OpenAPI description of `GET /system` (system_view.py), kept apart from openapi.py's
market endpoints."""

from __future__ import annotations

from typing import Final

from api_server.system_view import DOWN_AFTER_SECONDS
from linkora_core.openapi import Schema, decimal, get, json_response, obj, ref

_BYTES: Final = {"type": "integer", "minimum": 0}
_TIME: Final = {"type": "string", "format": "date-time"}

SERVICE: Final = obj(
    {
        "service": {"type": "string", "description": "`api-server`, `data-collector`, ..."},
        "instance": {"type": "string", "description": "`host:pid`"},
        "pid": {"type": "integer"},
        "state": {
            "type": "string",
            "description": "`ok`, `degraded`, `stopped` (a clean stop), or the service's own "
            "(`halted`, `standby` for an event processor)",
        },
        "up": {
            "type": "boolean",
            "description": f"Beat within {DOWN_AFTER_SECONDS} s and not stopped",
        },
        "age_seconds": decimal("Seconds since its last beat (it beats every 3 s)"),
        "started_at": {**_TIME, "description": "When the process started"},
        "beat_at": {**_TIME, "description": "Its last beat"},
        "cpu_percent": decimal("CPU between its last two beats, percent of one core"),
        "rss_bytes": {**_BYTES, "description": "Resident memory"},
        "backlog": {
            **_BYTES,
            "description": "Work waiting: the collector's queued publishes and pending writes, "
            "the api-server's unsent WebSocket bytes, the indexer's blocks behind the head",
        },
        "detail": {"type": "object", "description": "The service's own figures"},
    }
)

SYSTEM: Final = obj(
    {
        "time": _TIME,
        "started_at": {**_TIME, "description": "When this api-server started"},
        "uptime_seconds": {**_BYTES, "description": "Seconds this api-server has run"},
        "cpu": obj(
            {
                "percent": decimal("Host CPU since the previous snapshot, of all cores"),
                "count": {"type": "integer", "minimum": 1},
            }
        ),
        "memory": obj(
            {
                "total_bytes": _BYTES,
                "available_bytes": _BYTES,
                "used_bytes": _BYTES,
                "percent": decimal("Used, percent of total"),
            }
        ),
        "disk": obj(
            {
                "path": {
                    "type": "string",
                    "description": "The database's data directory when on this machine, else /",
                },
                "total_bytes": _BYTES,
                "free_bytes": _BYTES,
                "used_bytes": _BYTES,
            }
        ),
        "database": obj(
            {
                "up": {"type": "boolean", "description": "false: no sizes and no services"},
                "size_bytes": {"type": ["integer", "null"], "minimum": 0},
                "tables": {
                    "type": "array",
                    "description": "The largest tables of the public schema, largest first",
                    "items": obj({"name": {"type": "string"}, "size_bytes": _BYTES}),
                },
            }
        ),
        "services": {
            "type": "array",
            "description": "Every process that beat within the last hour",
            "items": ref("ServiceHeartbeat"),
        },
    }
)

PATH: Final[Schema] = get(
    "Host, database and service processes at a glance",
    {"200": json_response("The system view", ref("System"))},
    description="CPU, memory, disk free, the database's size in total and per table, this "
    "api-server's uptime, and a heartbeat per service process (pid, CPU, RSS, backlog, state): "
    f"a process silent for more than {DOWN_AFTER_SECONDS} s is `up: false`. Sizes are bytes "
    "(integers), percents and ages plain decimal strings. A database that is away leaves "
    "`database.up` false, with the host's figures still given. The same figures are "
    "Prometheus gauges on `/metrics` (`linkora_system_*`, `linkora_service_*`).",
)
