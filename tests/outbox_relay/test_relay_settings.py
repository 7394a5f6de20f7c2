"""The relay's settings: a local broker in development, a real one required in production."""

from __future__ import annotations

import pytest

from outbox_relay.settings import DEVELOPMENT_AMQP_URL, RelaySettings

PRODUCTION = {"ENVIRONMENT": "production", "DB_PASSWORD": "a-real-database-secret"}


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> RelaySettings:
    for name in ("AMQP_URL", "ENVIRONMENT", "DB_PASSWORD", "OUTBOX_EXCHANGE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return RelaySettings(_env_file=None)  # type: ignore[call-arg]


def test_development_defaults_to_a_local_broker_and_the_events_exchange(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _settings(monkeypatch)
    assert config.broker_url == DEVELOPMENT_AMQP_URL
    assert config.outbox_exchange == "linkora.events"
    assert config.retention.total_seconds() == 3600


def test_production_requires_an_amqp_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="AMQP_URL is required"):
        _settings(monkeypatch, **PRODUCTION)


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:guest@rabbitmq:5672/",
        "amqp://linkora:linkora_dev_password@rabbitmq:5672/",
        "amqp://linkora@rabbitmq:5672/",
    ],
)
def test_production_refuses_example_broker_credentials(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    with pytest.raises(ValueError, match="example credentials"):
        _settings(monkeypatch, **PRODUCTION, AMQP_URL=url)


def test_production_takes_a_real_broker_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "amqp://linkora:s3cr%2Ft@rabbitmq:5672/"
    assert _settings(monkeypatch, **PRODUCTION, AMQP_URL=url).broker_url == url
