"""How `/admin` answers look (pure): markets with the collector's state, exchanges, the
effective runtime settings and audit entries. Instants are ISO-8601 UTC strings; the
backfill rate is a plain decimal string."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import orjson

from api_server.admin_requests import qualified
from api_server.settings import ApiSettings
from linkora_core import control_store
from linkora_core.decimals import to_plain
from linkora_core.markets import VENUES, Exchange, Market, venue_of_key
from linkora_core.progress_messages import percent

# Which service applies each runtime setting.
SETTING_SERVICES: Final = {
    "orderbook_levels": "data-collector",
    "orderbook_store_interval": "data-collector",
    "ws_update_interval": "api-server",
    "audit_interval": "data-collector",
}


def instant(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def market_of(row: Mapping[str, Any]) -> Market:
    return Market(venue_of_key(row["venue"]), row["symbol"])


def _state(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    eta = row["backfill_eta"]
    done, total = int(row["backfill_done"]), int(row["backfill_total"])
    return {
        "phase": row["phase"],
        "last_error": row["last_error"],
        "last_closed_minute": instant(row["last_closed_minute"]),
        "backfill_done": done,
        "backfill_total": total,
        "backfill_percent": format(percent(done, total), "f"),
        "backfill_rate": to_plain(Decimal(row["backfill_rate"])),
        "backfill_eta_seconds": None if eta is None else int(eta.total_seconds()),
        "updated_at": instant(row["updated_at"]),
    }


def market(
    row: Mapping[str, Any],
    states: Mapping[Market, Mapping[str, Any]],
    disabled: Collection[Exchange],
) -> dict[str, Any]:
    """One configured market (a control_markets row) and what the collector reports of it."""
    where = market_of(row)
    return {
        "market": qualified(where),
        "exchange": where.venue.exchange.value,
        "kind": where.venue.kind.value,
        "symbol": where.symbol,
        "start_date": instant(row["start_date"]),
        "added_at": instant(row["added_at"]),
        "added_by": row["added_by"],
        "removed_at": instant(row["removed_at"]),
        "collected": row["removed_at"] is None and where.venue.exchange not in disabled,
        "state": _state(states.get(where)),
    }


def exchanges(
    rows: Collection[Mapping[str, Any]], disabled: Collection[Exchange]
) -> list[dict[str, Any]]:
    """Every exchange, whether it is enabled, its kinds and its markets configured."""
    configured = [market_of(r) for r in rows if r["removed_at"] is None]
    return [
        {
            "exchange": exchange.value,
            "enabled": exchange not in disabled,
            "kinds": [v.kind.value for v in VENUES if v.exchange is exchange],
            "markets": sum(1 for m in configured if m.venue.exchange is exchange),
        }
        for exchange in Exchange
    ]


def effective_settings(
    settings: ApiSettings, runtime: Mapping[str, int | float]
) -> dict[str, int | float]:
    """Each runtime setting's value: changed at runtime, else the environment's."""
    return {name: runtime.get(name, getattr(settings, name)) for name in control_store.SETTINGS}


def runtime_settings(
    settings: ApiSettings, runtime: Mapping[str, int | float]
) -> list[dict[str, Any]]:
    effective = effective_settings(settings, runtime)
    return [
        {
            "name": name,
            "value": effective[name],
            "default": getattr(settings, name),
            "runtime": runtime.get(name),
            "service": SETTING_SERVICES[name],
        }
        for name in control_store.SETTINGS
    ]


def audit_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    detail = row["detail"]
    return {
        "id": row["id"],
        "at": instant(row["at"]),
        "actor": row["actor"],
        "address": row["address"],
        "action": row["action"],
        "target": row["target"],
        # asyncpg hands jsonb over as its text unless a codec is set.
        "detail": orjson.loads(detail) if isinstance(detail, str | bytes) else detail,
    }
