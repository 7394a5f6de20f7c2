"""`.env.example` documents every variable any service reads, one line each."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from api_server.settings import ApiSettings
from data_collector.settings import CollectorSettings
from devstack.settings import StackSettings
from linkora_core.settings import CommonSettings
from order_system.settings import EventSettings, OrderSettings
from outbox_relay.settings import RelaySettings

REPO = Path(__file__).resolve().parents[2]
SETTINGS: list[type[BaseSettings]] = [
    CommonSettings,
    ApiSettings,
    CollectorSettings,
    OrderSettings,
    EventSettings,
    RelaySettings,
]
LEGACY_NAMES = {
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "REDIS_HOST",
    "REDIS_PORT",
    "API_HOST",
    "API_PORT",
    "ORDER_API_PORT",
    "BINANCE_BASE_URL",
    "SYMBOLS",
    "START_DATE",
    "REALTIME_INTERVAL",
    "ORDERBOOK_LEVELS",
    "WEB3_PROVIDER",
    "TRADING_ADDRESS",
    "ROUTER_ADDRESS",
    "ORACLE_ADDRESS",
    "LOG_LEVEL",
}


def _documented() -> dict[str, str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    entries = [re.match(r"^([A-Z0-9_]+)=(.*)$", line) for line in lines if line and line[0] != "#"]
    assert all(entries), "every non-comment line is NAME=value"
    return {m[1]: m[2] for m in entries if m}


def test_every_setting_of_every_service_is_documented_once() -> None:
    documented = _documented()
    names = {field.upper() for settings in SETTINGS for field in settings.model_fields}
    assert sorted(names - documented.keys()) == []
    assert sorted(documented.keys() - names) == []


def test_every_documented_variable_has_a_comment() -> None:
    for name, rest in _documented().items():
        assert "#" in rest, f"{name} has no explanation"


def test_the_variable_names_existing_deployments_use_still_work() -> None:
    names = {field.upper() for settings in SETTINGS for field in settings.model_fields}
    assert names >= LEGACY_NAMES


def test_the_api_server_port_is_told_one_way() -> None:
    """It listens on 8000 unless told (its settings, .env.example, its image); clients find it
    on 8022 (the native stack, both compose files): README, "Ports"."""
    listens = ApiSettings.model_fields["api_port"].default
    assert int(_documented()["API_PORT"].split("#")[0]) == listens == 8000
    image = (REPO / "Dockerfile").read_text().split(" AS api-server\n", 1)[1].split("\nFROM ")[0]
    assert re.search(rf"^EXPOSE {listens}$", image, re.MULTILINE)
    assert StackSettings.model_fields["api_port"].default == 8022
    assert "8022:${API_PORT:-8000}" in (REPO / "docker-compose.yml").read_text()
    assert '"8022:80"' in (REPO / "docker-compose.prod.yml").read_text()
    readme = (REPO / "README.md").read_text()
    assert "| `python -m api_server` | 8000 (API_PORT); clients use 8022" in readme
    assert readme.count("**Ports.**") == 1


@pytest.mark.parametrize(
    ("service", "foreign"),
    [
        ("api_server.__main__", {"web3", "aiohttp", "data_collector", "order_system"}),
        # The workers' images install no ASGI framework (each installs its extra only): their
        # entry points, health servers included, must not import one.
        (
            "data_collector.__main__",
            {"web3", "starlette", "uvicorn", "api_server", "order_system", "outbox_relay"},
        ),
        (
            "order_system.api.__main__",
            {"data_collector", "api_server", "exchange_sim", "order_system.events"},
        ),
        (
            "order_system.events.__main__",
            {"starlette", "uvicorn", "data_collector", "api_server", "outbox_relay"},
        ),
        (
            "outbox_relay.__main__",
            {"web3", "starlette", "uvicorn", "data_collector", "api_server", "order_system"},
        ),
    ],
)
def test_each_service_imports_neither_other_services_nor_their_dependencies(
    service: str, foreign: set[str]
) -> None:
    probe = f"import sys, {service}; print(sorted(set({sorted(foreign)!r}) & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
