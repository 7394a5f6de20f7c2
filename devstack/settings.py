"""What `python -m devstack` reads from the environment, typed and read once when it starts.

Only the process environment counts, not `.env`: that file describes a deployment of the
services (API_PORT 8000 inside a container), while the native stack puts the api-server where
clients look for it, 8022 (README, "Ports")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from linkora_core.settings import split_list

REPO = Path(__file__).resolve().parent.parent

External = Literal["db", "redis", "rabbitmq"]


class StackSettings(BaseSettings):
    # An empty variable (`DEVSTACK_RUN_DIR=`) means the default, as it did before.
    model_config = SettingsConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, env_ignore_empty=True
    )

    run_dir: Path = Field(default=REPO / ".run", validation_alias="DEVSTACK_RUN_DIR")
    api_port: int = Field(default=8022, ge=1, le=65535)
    order_api_port: int = Field(default=8080, ge=1, le=65535)
    symbols: str = "BTCUSDT,ETHUSDT"
    # The offline stack's markets beyond Binance spot (`make demo`: every other venue of the
    # simulator, for its first symbol); empty: derived as `offline_markets` says.
    markets: str = ""
    log_level: str = "INFO"
    # The api-server's /admin bearer token; empty: a new random one per run, printed at start
    # and written to <run dir>/admin-token (readable by the owner only).
    admin_token: str = ""
    # Servers that already run (from DB_*/REDIS_*/AMQP_URL in the environment) instead of
    # private ones.
    external: Annotated[frozenset[External], NoDecode] = Field(
        default_factory=frozenset, validation_alias="DEVSTACK_EXTERNAL"
    )
    # Only named in the endpoint list when the server is external.
    db_host: str = ""
    redis_host: str = ""

    @field_validator("external", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_list(value)
