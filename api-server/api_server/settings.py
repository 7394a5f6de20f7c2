"""API server settings: the common ones plus where to listen and what clients may do."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from api_server import order_markets
from api_server.order_markets import Pair
from linkora_core.settings import EXAMPLE_SECRETS, Environment, HttpSettings

# A production admin token shorter than this is refused (a guessable secret).
MIN_ADMIN_TOKEN_LENGTH = 16


class ApiSettings(HttpSettings):
    api_port: int = Field(default=8000, ge=1, le=65535)
    # Where the chart page (served at `/`) asks the browser to read recent orders from.
    order_api_url: str = "http://127.0.0.1:8080"
    # The market whose chart shows each DEX token pair's executed and cancelled orders (UDF
    # marks): `0xBASE/0xQUOTE=ETHUSDT,...` or a JSON object of the same; empty: no marks.
    order_markets: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    # Rollups of closed buckets: how often the maintainer looks for newly closed minutes and
    # for minutes written late (the `candle_changes` log the collector keeps).
    rollup_interval: float = Field(default=2.0, gt=0)
    # Requests reuse the rollup frontiers this long (a lagging frontier costs work, not truth).
    rollup_frontier_cache_seconds: float = Field(default=1.0, ge=0)
    # Immutable closed pages of /candles are cached this long (0 disables the cache).
    candle_cache_seconds: float = Field(default=30.0, ge=0)
    # Bytes of rendered pages the cache keeps (a page of 5,000 candles is ~1.8 MB).
    candle_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    # Pages with the open bucket are shared for this long (0: computed for every request).
    candle_live_cache_seconds: float = Field(default=1.0, ge=0)

    # The relay's exchange, named in the AsyncAPI document (GET /asyncapi.json).
    outbox_exchange: str = Field(default="linkora.events", min_length=1)

    ws_update_interval: float = Field(default=1.0, ge=0)
    # Seconds of silence on the live feed's Redis subscription before it pings; no answer
    # within as long again means the connection died silently and is replaced.
    redis_ping_interval: float = Field(default=5.0, gt=0)
    ws_heartbeat_interval: float = Field(default=30.0, gt=0)
    ws_idle_timeout: float = Field(default=90.0, gt=0)
    # Bytes a client may leave unread before it counts as too slow and is closed (1013).
    ws_send_buffer: int = Field(default=1_048_576, ge=1024)
    ws_max_connections_per_ip: int = Field(default=50, ge=1)
    # Every WebSocket client of the process; beyond it new ones are closed with 1013.
    ws_max_connections: int = Field(default=10_000, ge=1)
    # WebSocket handshakes per second per client IP, with bursts (0 disables the limit).
    ws_handshake_rate: float = Field(default=5.0, ge=0)
    ws_handshake_burst: int = Field(default=20, ge=1)
    ws_max_message_bytes: int = Field(default=4096, ge=64)
    ws_max_subscriptions: int = Field(default=10, ge=1)
    # Seconds between the snapshots the WebSocket `system` subscription sends.
    ws_system_interval: float = Field(default=5.0, gt=0)

    # The bearer token of the /admin API; required in production, and without it (development
    # only) the admin API answers 503.
    admin_token: SecretStr | None = None
    # Wrong tokens one address may send per minute; beyond them its /admin requests get 429.
    admin_auth_failures_per_minute: int = Field(default=10, ge=1)
    # Changes through /admin per minute per address, in bursts of as many.
    admin_writes_per_minute: int = Field(default=60, ge=1)
    # The collector's settings of these names as this environment has them: /admin/settings
    # shows them as the defaults that runtime changes override (the collector reads its own).
    orderbook_levels: int = Field(default=20, ge=1)
    orderbook_store_interval: float = Field(default=1.0, ge=0)
    audit_interval: float = Field(default=3600.0, ge=0)

    @field_validator("admin_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _refuse_example_admin_token(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        token = None if self.admin_token is None else self.admin_token.get_secret_value()
        if token is None:
            raise ValueError("ADMIN_TOKEN is required in production")
        if token in EXAMPLE_SECRETS:
            raise ValueError("ADMIN_TOKEN is an example value; set a real secret in production")
        if len(token) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(f"ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LENGTH} characters")
        return self

    @field_validator("order_markets", mode="before")
    @classmethod
    def _parse_order_markets(cls, value: object) -> object:
        return order_markets.parse(value)

    @cached_property
    def order_market_pairs(self) -> dict[str, tuple[Pair, ...]]:
        """Each charted market's token pairs."""
        return order_markets.pairs_by_symbol(self.order_markets)
