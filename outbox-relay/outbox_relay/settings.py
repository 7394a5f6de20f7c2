"""The relay's settings: the database (linkora_core.settings), the broker and the outbox's
publishing and retention figures, read once at start.

In production AMQP_URL is required and may not carry the broker's example credentials
(guest, or a secret from .env.example); in development it defaults to a local broker."""

from __future__ import annotations

from datetime import timedelta
from typing import Final, Self
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, model_validator

from linkora_core.settings import EXAMPLE_SECRETS, CommonSettings, Environment

DEVELOPMENT_AMQP_URL: Final = "amqp://guest:guest@127.0.0.1:5672/"


class RelaySettings(CommonSettings):
    """AMQP_URL, OUTBOX_* and the common DB_*, METRICS_PORT, LOG_LEVEL."""

    amqp_url: SecretStr | None = None
    # A durable topic exchange the relay declares; consumers bind their queues to it.
    outbox_exchange: str = Field(default="linkora.events", min_length=1)
    # Rows read per query, and messages published but not yet confirmed at most.
    outbox_batch_size: int = Field(default=1000, ge=1, le=100_000)
    outbox_window: int = Field(default=500, ge=1, le=65_535)
    # Published rows are deleted once confirmed longer ago than this.
    outbox_retention_seconds: float = Field(default=3600.0, ge=0)
    outbox_prune_seconds: float = Field(default=60.0, gt=0)
    # Without a NOTIFY (a lost one, a released row) the outbox is read this often anyway.
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # A publish the broker has not confirmed by then counts as a lost connection.
    outbox_confirm_timeout: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _broker_in_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        if self.amqp_url is None:
            raise ValueError("AMQP_URL is required in production")
        parts = urlsplit(self.amqp_url.get_secret_value())
        password = unquote(parts.password or "")
        if parts.username == "guest" or password in EXAMPLE_SECRETS or not password:
            raise ValueError("AMQP_URL has example credentials; set a real user and secret")
        return self

    @property
    def broker_url(self) -> str:
        if self.amqp_url is None:
            return DEVELOPMENT_AMQP_URL
        return self.amqp_url.get_secret_value()

    @property
    def retention(self) -> timedelta:
        return timedelta(seconds=self.outbox_retention_seconds)
