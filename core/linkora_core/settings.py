"""Typed settings read once from the environment (and an optional `.env`).

Every service builds its own subclass of `CommonSettings` (devstack its own settings) with
`load()`, which turns a validation failure into one clear line and exit status 2 instead of a
traceback.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Self, TypeVar
from urllib.parse import quote

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Secrets that appear in .env.example and the development compose file; production refuses them.
EXAMPLE_SECRETS = frozenset(
    {
        "linkora",
        "linkora_dev_password",
        "linkora_dev_admin_token",
        "change-me",
        "password",
        "postgres",
        "crypto_password",
    }
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class CommonSettings(BaseSettings):
    """What every service reads: environment, logging, PostgreSQL and Redis."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Environment = Environment.DEVELOPMENT
    log_level: LogLevel = LogLevel.INFO

    db_host: str = "127.0.0.1"
    db_port: int = Field(default=5432, ge=1, le=65535)
    # The earlier system's database and user names, so its documented commands keep working.
    db_name: str = "crypto_data"
    db_user: str = "crypto_user"
    db_password: SecretStr = SecretStr("linkora_dev_password")
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)

    redis_host: str = "127.0.0.1"
    redis_port: int = Field(default=6379, ge=1, le=65535)
    redis_db: int = Field(default=0, ge=0)
    # A managed Redis (AUTH, in-transit encryption): empty password is none.
    redis_password: SecretStr = SecretStr("")
    redis_tls: bool = False

    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _refuse_example_secrets(self) -> Self:
        production = self.environment is Environment.PRODUCTION
        if production and self.db_password.get_secret_value() in EXAMPLE_SECRETS:
            raise ValueError("DB_PASSWORD is an example value; set a real secret in production")
        return self

    @property
    def db_dsn(self) -> str:
        # Every part is percent-encoded: a password may hold `/ @ # ? %` or spaces.
        user = quote(self.db_user, safe="")
        password = quote(self.db_password.get_secret_value(), safe="")
        name = quote(self.db_name, safe="")
        return f"postgresql://{user}:{password}@{self.db_host}:{self.db_port}/{name}"

    @property
    def redis_url(self) -> str:
        scheme = "rediss" if self.redis_tls else "redis"
        secret = quote(self.redis_password.get_secret_value(), safe="")
        auth = f":{secret}@" if secret else ""
        return f"{scheme}://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"


def split_symbols(value: object) -> object:
    """`SYMBOLS=btcusdt, ETHUSDT` -> ["BTCUSDT", "ETHUSDT"]."""
    parts = split_list(value)
    return [part.upper() for part in parts] if isinstance(parts, list) else parts


Symbols = Annotated[list[str], NoDecode]


def split_list(value: object) -> object:
    """`a, b,c` -> ["a", "b", "c"] for list settings given as comma lists."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class HttpSettings(CommonSettings):
    """What both HTTP APIs share: where they listen, CORS and the per-IP rate limit."""

    api_host: str = "0.0.0.0"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    rate_limit_per_second: float = Field(default=50.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    # Seconds: the server cancels a longer API query (503), and a request that waits longer
    # for a free database connection answers 503 instead of hanging.
    db_statement_timeout: float = Field(default=10.0, gt=0)
    db_acquire_timeout: float = Field(default=5.0, gt=0)
    # Peers whose X-Forwarded-For is believed (the load balancer); addresses or networks.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return split_list(value)


def parse_start_date(value: object) -> object:
    """Accept `2024-01-01` or a full ISO-8601 timestamp; naive values are UTC."""
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def describe_error(error: ValidationError) -> str:
    """One line naming every offending variable, e.g. `TRADING_ADDRESS: Field required`."""
    parts = []
    for item in error.errors():
        name = "_".join(str(p) for p in item["loc"]).upper() or "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{name}: {message}" if item["loc"] else message)
    return "; ".join(parts)


def load(settings_type: type[SettingsT]) -> SettingsT:
    """Read settings once at start; on error print one line and exit with status 2."""
    try:
        return settings_type()
    except ValidationError as error:
        print(f"configuration error: {describe_error(error)}", file=sys.stderr)
        raise SystemExit(2) from None
