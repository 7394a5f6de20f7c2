"""Settings: the variable names deployments use, and a clear one-line failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from linkora_core.settings import CommonSettings, Environment

REPO = Path(__file__).resolve().parents[2]


def test_existing_variable_names_configure_database_and_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "DB_HOST": "db.internal",
        "DB_PORT": "6543",
        "DB_NAME": "market",
        "DB_USER": "reader",
        "DB_PASSWORD": "s3cret",
        "REDIS_HOST": "cache",
        "REDIS_PORT": "6380",
        "LOG_LEVEL": "debug",
    }.items():
        monkeypatch.setenv(name, value)
    settings = CommonSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.db_dsn == "postgresql://reader:s3cret@db.internal:6543/market"
    assert settings.redis_url == "redis://cache:6380/0"
    assert settings.log_level == "DEBUG"
    assert settings.environment is Environment.DEVELOPMENT


def _run_service(module: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO / "tests",
    )


def test_an_example_password_stops_a_production_service_with_one_line() -> None:
    result = _run_service(
        "api_server", {"ENVIRONMENT": "production", "DB_PASSWORD": "linkora_dev_password"}
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: DB_PASSWORD is an example value; set a real secret in production"
    ]


def test_a_missing_required_variable_stops_the_event_processor_with_one_line() -> None:
    result = _run_service("order_system.events", {"DB_PASSWORD": "x"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("configuration error:")
    assert "TRADING_ADDRESS is required" in lines[0]


def test_a_malformed_value_names_the_variable() -> None:
    result = _run_service("api_server", {"API_PORT": "eighty"})
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: API_PORT:")


@pytest.mark.parametrize(
    ("name", "value"), [("API_PORT", "eighty"), ("DEVSTACK_EXTERNAL", "db,mongo")]
)
def test_a_malformed_value_stops_devstack_with_one_line(
    name: str, value: str, tmp_path: Path
) -> None:
    # `down`: were the value accepted, nothing would start.
    result = _run_service("devstack", {name: value, "DEVSTACK_RUN_DIR": str(tmp_path)}, "down")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"configuration error: {name}")
