"""The pure parts of /admin: request validation, the answers' shapes, the settings each
service applies, the bearer header and the rate limiter's peek."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from api_server import admin_requests, admin_views
from api_server.admin_auth import bearer_token
from api_server.settings import ApiSettings
from data_collector.settings import CollectorSettings
from linkora_core import control_store
from linkora_core.http import BadRequest
from linkora_core.markets import BINANCE_SPOT, Exchange, Kind, Market, Venue
from linkora_core.ratelimit import RateLimiter

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T05:06:07Z", datetime(2026, 11, 1, 5, 6, 7, tzinfo=UTC)),
        ("2026-11-01T05:00:00+02:00", datetime(2026, 11, 1, 3, tzinfo=UTC)),
        ("2026-12-01T12:00:00", NOW),  # now itself is not the future
        (None, None),
        ("", None),
    ],
)
def test_a_start_date_is_a_utc_instant_not_after_now(
    text: str | None, expected: datetime | None
) -> None:
    parsed = admin_requests.start_date(text, NOW)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text", ["2026-12-01T12:00:01Z", "2026-12-01T13:30:00+01:00", "9999-12-31T23:59:59-01:00"]
)
def test_a_start_date_after_now_is_refused(text: str) -> None:
    with pytest.raises(BadRequest, match="must not be in the future"):
        admin_requests.start_date(text, NOW)


def test_a_start_date_far_back_is_refused_without_overflowing() -> None:
    with pytest.raises(BadRequest, match="before 1970"):
        admin_requests.start_date("0001-01-01T00:00:00+01:00", NOW)


def test_a_new_market_names_its_venue_and_stored_symbol() -> None:
    market, start = admin_requests.new_market(
        {"exchange": " OKX ", "kind": "SWAP", "symbol": "btc-usdt-swap", "start_date": None}, NOW
    )
    assert market == Market(Venue(Exchange.OKX, Kind.SWAP), "BTC-USDT-SWAP")
    assert start is None
    market, _ = admin_requests.new_market({"exchange": "binance", "symbol": "ethusdt"}, NOW)
    assert market == Market(BINANCE_SPOT, "ETHUSDT")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"exchange": "bybit", "symbol": "x" * 65}, "symbol is too long"),
        ({"exchange": ["bybit"], "symbol": "BTCUSDT"}, "exchange must be a string"),
        ({"exchange": "bybit", "kind": 1, "symbol": "BTCUSDT"}, "kind must be a string"),
        ({"exchange": "", "symbol": "BTCUSDT"}, "exchange is required"),
        ({"exchange": "binance", "symbol": "B"}, "invalid symbol"),
        ("bybit:linear:BTCUSDT", "the body must be a JSON object"),
    ],
)
def test_a_bad_new_market_names_the_problem(body: object, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        admin_requests.new_market(body, NOW)


def test_a_purge_confirmation_is_the_qualified_market_exactly() -> None:
    market = Market(BINANCE_SPOT, "BTCUSDT")
    admin_requests.check_confirmation(market, "binance:spot:BTCUSDT")
    admin_requests.check_confirmation(market, " binance:spot:BTCUSDT ")
    for wrong in [None, "BTCUSDT", "binance:BTCUSDT", "binance:spot:btcusdt"]:
        with pytest.raises(BadRequest, match="binance:spot:BTCUSDT"):
            admin_requests.check_confirmation(market, wrong)


def test_a_settings_patch_takes_numbers_and_their_text() -> None:
    assert admin_requests.settings_patch(
        {"orderbook_levels": 10, "audit_interval": "90", "ws_update_interval": 0}
    ) == {"orderbook_levels": 10, "audit_interval": 90.0, "ws_update_interval": 0.0}
    with pytest.raises(BadRequest, match="must be an integer"):
        admin_requests.settings_patch({"orderbook_levels": "1e3"})
    with pytest.raises(BadRequest, match="too long"):
        admin_requests.settings_patch({"audit_interval": "1" * 65})


def test_an_audit_page_defaults_to_the_newest_fifty() -> None:
    assert admin_requests.audit_page({}) == (50, None)
    assert admin_requests.audit_page({"limit": " 500 ", "before": "7"}) == (500, 7)
    for bad in [{"limit": "+5"}, {"before": "1.5"}, {"limit": "9" * 19}]:
        with pytest.raises(BadRequest):
            admin_requests.audit_page(bad)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("BEARER a b", "a b"),
        (None, None),
        ("Bearer", None),
        ("Basic abc", None),
        ("Bearerabc", None),
    ],
)
def test_the_bearer_token_of_a_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_a_peek_at_the_rate_limiter_spends_nothing() -> None:
    now = [0.0]
    limiter = RateLimiter(1.0, 2, clock=lambda: now[0])
    assert limiter.wait("a") == 0.0  # never seen: a full bucket
    assert [limiter.check("a"), limiter.check("a")] == [0.0, 0.0]
    assert limiter.wait("a") == pytest.approx(1.0)
    assert limiter.wait("a") == pytest.approx(1.0)
    now[0] = 0.5
    assert limiter.wait("a") == pytest.approx(0.5)
    now[0] = 1.0
    assert limiter.wait("a") == 0.0
    assert limiter.check("a") == 0.0
    assert limiter.check("a") == pytest.approx(1.0)


def test_every_runtime_setting_has_a_service_and_an_environment_default_here() -> None:
    assert set(admin_views.SETTING_SERVICES) == set(control_store.SETTINGS)
    assert set(control_store.SETTINGS) <= set(ApiSettings.model_fields)


@pytest.mark.parametrize("name", ["orderbook_levels", "orderbook_store_interval", "audit_interval"])
def test_the_collectors_defaults_shown_here_are_the_collectors_own(name: str) -> None:
    assert admin_views.SETTING_SERVICES[name] == "data-collector"
    assert ApiSettings.model_fields[name].default == CollectorSettings.model_fields[name].default


def _row(**changes: Any) -> dict[str, Any]:
    return {
        "venue": "bybit-linear",
        "symbol": "BTCUSDT",
        "start_date": None,
        "added_at": datetime(2026, 1, 1, tzinfo=UTC),
        "added_by": "env",
        "removed_at": None,
        **changes,
    }


def test_a_market_view_has_exact_figures_and_utc_instants() -> None:
    market = Market(Venue(Exchange.BYBIT, Kind.LINEAR), "BTCUSDT")
    state = {
        "phase": "backfill",
        "last_error": None,
        "last_closed_minute": None,
        "backfill_done": 1,
        "backfill_total": 3,
        "backfill_rate": Decimal("1E+3"),
        "backfill_eta": timedelta(seconds=90.7),
        "updated_at": datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))),
    }
    view = admin_views.market(_row(), {market: state}, set())
    assert view["state"]["backfill_rate"] == "1000"
    assert view["state"]["backfill_percent"] == "33.3"
    assert view["state"]["backfill_eta_seconds"] == 90
    assert view["state"]["updated_at"] == "2026-01-01T00:00:00+00:00"
    assert view["collected"] is True
    assert admin_views.market(_row(), {}, {Exchange.BYBIT})["collected"] is False
    removed = admin_views.market(_row(removed_at=NOW), {}, set())
    assert (removed["collected"], removed["state"]) == (False, None)


def test_the_exchanges_count_only_markets_still_configured() -> None:
    rows = [_row(), _row(symbol="ETHUSDT", removed_at=NOW), _row(venue="bybit-spot")]
    views = {v["exchange"]: v for v in admin_views.exchanges(rows, {Exchange.OKX})}
    assert views["bybit"] == {
        "exchange": "bybit",
        "enabled": True,
        "kinds": ["spot", "linear"],
        "markets": 2,
    }
    assert views["okx"]["enabled"] is False
