"""Runtime settings (`control_store.parse_setting`, `runtime_settings`): only values a running
service can take are accepted, and a stored value that no longer parses is skipped, not fatal."""

from __future__ import annotations

import asyncpg
import pytest

from linkora_core import control_store


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("orderbook_levels", "10", 10),
        ("orderbook_store_interval", "0", 0.0),
        ("orderbook_store_interval", "2.5", 2.5),
        ("ws_update_interval", "0.05", 0.05),
        ("audit_interval", "86400", 86_400.0),
        ("audit_interval", " 0 ", 0.0),
    ],
)
def test_values_a_service_can_take_are_accepted(name: str, text: str, value: float) -> None:
    assert control_store.parse_setting(name, text) == value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("orderbook_levels", "7", "orderbook_levels must be one of 5, 10, 20"),
        ("orderbook_levels", "1.5", "orderbook_levels must be an integer"),
        ("orderbook_store_interval", "1e306", "between 0.1 and 3600 seconds"),
        ("orderbook_store_interval", "0.001", "between 0.1 and 3600 seconds"),
        ("ws_update_interval", "0.000001", "between 0.05 and 60 seconds"),
        ("audit_interval", "0.001", "between 1 and 86400 seconds"),
        ("audit_interval", "inf", "audit_interval must be finite"),
        ("audit_interval", "-1", "audit_interval must be 0 or more"),
        ("book_depth", "5", "unknown setting 'book_depth'"),
    ],
)
def test_values_that_would_spin_or_overflow_a_loop_are_refused(
    name: str, text: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        control_store.parse_setting(name, text)


async def test_a_stored_value_that_does_not_parse_is_skipped_and_the_rest_applied(
    clean_db: asyncpg.Pool,
) -> None:
    await clean_db.executemany(
        "INSERT INTO control_settings (name, value) VALUES ($1, $2)",
        [("audit_interval", "0.001"), ("ws_update_interval", "0.5"), ("gone_setting", "1")],
    )
    assert await control_store.runtime_settings(clean_db) == {"ws_update_interval": 0.5}
