"""The `/admin` part of the api-server's OpenAPI document (admin_routes.py)."""

from __future__ import annotations

from typing import Any, Final

from api_server.admin_requests import MAX_AUDIT_LIMIT
from api_server.admin_views import SETTING_SERVICES
from linkora_core import control_store
from linkora_core.markets import Exchange, Kind
from linkora_core.openapi import Schema, decimal, errors, json_response, obj, path_parameter, query

SECURITY_SCHEMES: Final[Schema] = {
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <ADMIN_TOKEN>`",
    }
}

_TIME = {"type": "string", "format": "date-time"}
_NULL_TIME = {"type": ["string", "null"], "format": "date-time"}
_COUNT = {"type": "integer", "minimum": 0}
_EXCHANGE = {"type": "string", "enum": [e.value for e in Exchange]}
_KIND = {"type": "string", "enum": [k.value for k in Kind]}
_NAME = {"type": "string", "description": "`exchange:kind:SYMBOL`, Binance spot included"}

_STATE = obj(
    {
        "phase": {
            "type": "string",
            "enum": ["starting", "backfill", "realtime", "error", "removed"],
        },
        "last_error": {"type": ["string", "null"]},
        "last_closed_minute": {**_NULL_TIME, "description": "Open of the newest closed minute"},
        "backfill_done": {**_COUNT, "description": "Minutes backfilled"},
        "backfill_total": {**_COUNT, "description": "Minutes to backfill in all"},
        "backfill_percent": {"type": "string", "pattern": r"^[0-9]{1,3}\.[0-9]$"},
        "backfill_rate": decimal("Candles stored per second recently"),
        "backfill_eta_seconds": {"type": ["integer", "null"], "minimum": 0},
        "updated_at": _TIME,
    }
)
_MARKET = obj(
    {
        "market": _NAME,
        "exchange": _EXCHANGE,
        "kind": _KIND,
        "symbol": {"type": "string"},
        "start_date": {**_NULL_TIME, "description": "null: the collector's START_DATE"},
        "added_at": _TIME,
        "added_by": {"type": "string"},
        "removed_at": {**_NULL_TIME, "description": "null while configured"},
        "collected": {
            "type": "boolean",
            "description": "Configured (not removed) and its exchange enabled",
        },
        "state": {
            "oneOf": [{"$ref": "#/components/schemas/AdminMarketState"}, {"type": "null"}],
            "description": "What the collector last wrote of it; null before it wrote anything",
        },
    }
)
_EXCHANGE_VIEW = obj(
    {
        "exchange": _EXCHANGE,
        "enabled": {"type": "boolean"},
        "kinds": {"type": "array", "items": _KIND},
        "markets": {**_COUNT, "description": "Markets configured on it (not removed)"},
    }
)
_NUMBER = {"type": "number"}
_SETTING = obj(
    {
        "name": {"type": "string", "enum": list(control_store.SETTINGS)},
        "value": {**_NUMBER, "description": "In effect: `runtime` if set, else `default`"},
        "default": {**_NUMBER, "description": "The environment's value, as this server reads it"},
        "runtime": {"type": ["number", "null"], "description": "Changed at runtime, or null"},
        "service": {"type": "string", "enum": sorted(set(SETTING_SERVICES.values()))},
    }
)
_AUDIT_ENTRY = obj(
    {
        "id": {"type": "integer", "minimum": 1},
        "at": _TIME,
        "actor": {"type": "string", "description": "`admin:` and the token's fingerprint"},
        "address": {"type": "string", "description": "The client's address"},
        "action": {"type": "string"},
        "target": {"type": "string"},
        "detail": {"type": "object"},
    }
)
SCHEMAS: Final[dict[str, Schema]] = {
    "AdminMarket": _MARKET,
    "AdminMarketState": _STATE,
    "AdminExchange": _EXCHANGE_VIEW,
    "AdminSetting": _SETTING,
    "AuditEntry": _AUDIT_ENTRY,
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


_GUARD = {
    "401": {
        **json_response("No bearer token", _ref("Error")),
        "headers": {
            "WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}
        },
    },
    "403": json_response("A wrong token", _ref("Error")),
    "503": json_response(
        "The admin API is disabled (no ADMIN_TOKEN), or the database is unavailable",
        _ref("Error"),
    ),
}


def _op(
    summary: str,
    responses: Schema,
    *parameters: Schema,
    description: str = "",
    body: Schema | None = None,
) -> Schema:
    operation: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "parameters": list(parameters),
        "responses": {**responses, **_GUARD},
        "security": [{"adminToken": []}],
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


_SYMBOL = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,30}[A-Za-z0-9]$"}
_MARKET_PATH = (
    path_parameter("exchange", _EXCHANGE, "Any letter case; another is a 400"),
    path_parameter("kind", _KIND, "One of the exchange's kinds, any letter case (else a 400)"),
    path_parameter("symbol", _SYMBOL, "In the exchange's spelling, any case"),
)
_NEW_MARKET = obj(
    {
        "exchange": _EXCHANGE,
        "kind": {"enum": [*_KIND["enum"], None], "description": "Default the exchange's spot"},
        "symbol": _SYMBOL,
        "start_date": {
            "type": ["string", "null"],
            "description": "ISO-8601 date or date-time (naive is UTC), not in the future; "
            "default the collector's START_DATE",
        },
    },
    optional=["kind", "start_date"],
)
_SETTINGS = obj({"settings": {"type": "array", "items": _ref("AdminSetting")}})
_SETTINGS_PATCH = {
    "type": "object",
    "properties": {
        name: {"type": "integer" if kind is int else "number"}
        for name, kind in control_store.SETTINGS.items()
    },
    "additionalProperties": False,
    "minProperties": 1,
}
_PURGED = obj(
    {
        "market": _NAME,
        "deleted": {
            "type": "object",
            "additionalProperties": _COUNT,
            "description": "Rows deleted per table",
        },
    }
)

PATHS: Final[dict[str, Schema]] = {
    "/admin/markets": {
        "get": _op(
            "Every configured market with the collector's state",
            {
                "200": json_response(
                    "Markets, removed ones included",
                    obj({"markets": {"type": "array", "items": _ref("AdminMarket")}}),
                )
            },
            description="Progress of a backfill is `state.backfill_*`.",
        ),
        "post": _op(
            "Collect a market",
            {
                "201": json_response("The market, as listed", _ref("AdminMarket")),
                **errors(400),
                "409": json_response("Collected already", _ref("Error")),
            },
            body=_NEW_MARKET,
            description="The collectors start it within seconds (NOTIFY `linkora_control`); a "
            "market removed before is collected again. Recorded in the audit log.",
        ),
    },
    "/admin/markets/{exchange}/{kind}/{symbol}": {
        "get": _op(
            "One configured market with the collector's state",
            {
                "200": json_response("The market", _ref("AdminMarket")),
                **errors(400, 404),
            },
            *_MARKET_PATH,
        ),
        "delete": _op(
            "Stop collecting a market",
            {
                "200": json_response("The market, removed", _ref("AdminMarket")),
                **errors(400, 404),
            },
            *_MARKET_PATH,
            description="Its stored data stays (see `purge`); WebSocket subscribers are told "
            "and closed. 404 when it is not collected.",
        ),
    },
    "/admin/markets/{exchange}/{kind}/{symbol}/purge": {
        "post": _op(
            "Delete one market's stored data",
            {
                "200": json_response("Rows deleted", _PURGED),
                **errors(400),
                "409": json_response(
                    "Still collected (remove it first), or its stop not yet confirmed",
                    _ref("Error"),
                ),
            },
            *_MARKET_PATH,
            query(
                "confirm",
                {"type": "string"},
                "The market again, `exchange:kind:SYMBOL` exactly (`binance:spot:BTCUSDT`)",
                required=True,
            ),
            description="Candles, rollups, the change log, gaps, order books and the "
            "collector's state of that market only, in one transaction.",
        ),
    },
    "/admin/exchanges": {
        "get": _op(
            "Exchanges and whether each is enabled",
            {
                "200": json_response(
                    "Every exchange",
                    obj({"exchanges": {"type": "array", "items": _ref("AdminExchange")}}),
                )
            },
        ),
    },
    "/admin/exchanges/{exchange}": {
        "put": _op(
            "Enable or disable an exchange",
            {
                "200": json_response("The exchange", _ref("AdminExchange")),
                **errors(400, 404),
            },
            path_parameter("exchange", _EXCHANGE, "Any letter case; another is a 404"),
            body=obj({"enabled": {"type": "boolean"}}),
            description="None of a disabled exchange's markets is collected; they stay "
            "configured and resume when it is enabled.",
        ),
    },
    "/admin/settings": {
        "get": _op("The runtime settings in effect", {"200": json_response("Settings", _SETTINGS)}),
        "patch": _op(
            "Change runtime settings",
            {"200": json_response("Settings", _SETTINGS), **errors(400)},
            body=_SETTINGS_PATCH,
            description="All or nothing: one unknown name or value out of range changes none "
            "(book levels 5, 10 or 20; intervals in seconds: 0, or orderbook_store_interval "
            "0.1-3600, ws_update_interval 0.05-60, audit_interval 1-86400).",
        ),
    },
    "/admin/audit": {
        "get": _op(
            "The audit log, newest first",
            {
                "200": json_response(
                    "Entries",
                    obj(
                        {
                            "entries": {"type": "array", "items": _ref("AuditEntry")},
                            "next_before": {
                                "type": ["integer", "null"],
                                "description": "`before` for the next page; null when "
                                "fewer than `limit` were left",
                            },
                        }
                    ),
                ),
                **errors(400),
            },
            query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_AUDIT_LIMIT, "default": 50},
                "How many entries",
            ),
            query("before", {"type": "integer", "minimum": 1}, "Entries older than this id"),
        ),
    },
}
