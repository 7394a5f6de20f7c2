"""Order system settings shared by the order API and the event processor.

Contract addresses come from TRADING_ADDRESS (and friends) or, for local chains, from the
deployment file the project's deployer writes (DEPLOYMENT_FILE); explicit variables win.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import NoDecode

from linkora_core.settings import HttpSettings, split_list

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class OrderSettings(HttpSettings):
    order_api_port: int = Field(default=8080, ge=1, le=65535)
    web3_provider: str = "http://127.0.0.1:8545"
    trading_address: str | None = None
    router_address: str | None = None
    oracle_address: str | None = None
    deployment_file: Path | None = None
    # /statistics counts the last 24 hours at most this often (a scan of a day's orders).
    statistics_cache_seconds: float = Field(default=5.0, ge=0)
    # /ws/orders: seconds between heartbeats, and the frames a client may fall behind before
    # it is closed (1013) so that it never delays the others.
    order_ws_heartbeat: float = Field(default=30.0, gt=0)
    order_ws_queue: int = Field(default=1000, ge=1)
    # Connections refused beyond these: 1013 at the process's capacity, 1008 past one address's.
    order_ws_max_connections: int = Field(default=10_000, ge=1)
    order_ws_max_connections_per_ip: int = Field(default=50, ge=1)

    @field_validator("trading_address", "router_address", "oracle_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if not value:  # `ROUTER_ADDRESS=` in an env file means unset
            return None
        if not _ADDRESS.match(value):
            raise ValueError(f"not a 20-byte hex address: {value!r}")
        return value.lower() if value else None

    @model_validator(mode="after")
    def _addresses_from_deployment(self) -> Self:
        if self.deployment_file is None or self.trading_address:
            return self
        try:
            deployed = json.loads(self.deployment_file.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"DEPLOYMENT_FILE unreadable: {error}") from None
        for field in ("trading", "router", "oracle"):
            if not getattr(self, f"{field}_address") and deployed.get(field):
                object.__setattr__(self, f"{field}_address", str(deployed[field]).lower())
        return self


class Tuning(BaseModel):
    """How the indexer walks the chain. The event processor's settings are a Tuning (the
    processor takes them as they are); a test or a benchmark builds one alone."""

    # First block to index when there is no checkpoint; default: the deployment file's block.
    start_block: int | None = Field(default=None, ge=0)
    confirmations: int = Field(default=12, ge=0)
    reorg_window: int = Field(default=128, ge=1)
    poll_interval: float = Field(default=1.0, gt=0)
    initial_range: int = Field(default=100, ge=1)
    max_range: int = Field(default=5000, ge=1)
    fetch_concurrency: int = Field(default=4, ge=1, le=64)
    # No checkpoint progress for this long while the head moves -> reconnect and alert.
    watchdog_seconds: float = Field(default=60.0, gt=0)
    # With several providers (WEB3_PROVIDERS), a rollback deeper than this many blocks is
    # done only when a second provider finds the same common ancestor.
    reorg_confirm_depth: int = Field(default=3, ge=0)
    # Order events for other applications (outbox -> broker, and the order API's /ws/orders):
    # "instant" releases each as soon as its batch is written (CONFIRMATIONS behind the head);
    # "confirmed" holds it until its block has ORDER_EVENTS_CONFIRMATIONS blocks on top of it
    # on the chain the processor follows (head - block >= that depth, and never less than
    # CONFIRMATIONS, below which nothing is indexed).
    order_events_delivery: Literal["instant", "confirmed"] = "instant"
    order_events_confirmations: int = Field(default=12, ge=0)

    @field_validator("start_block", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def first_block(self) -> int:
        return self.start_block or 0


class EventSettings(OrderSettings, Tuning):
    """The event processor cannot start without the contract it indexes.

    WEB3_PROVIDERS (optional): several JSON-RPC URLs, comma-separated (or a JSON list), in
    order of preference; the processor fails over between them (order_system/providers.py)
    and, when set, WEB3_PROVIDER is not used by the processor. Unset: WEB3_PROVIDER alone."""

    web3_providers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    rpc_timeout: float = Field(default=15.0, gt=0)
    rpc_batch_size: int = Field(default=500, ge=1)
    # Read the orders created in one block with one eth_call running the OrderReader helper
    # through a state override (plain calls where the node refuses it): 10x fewer calls, and
    # 3.7x the getOrder reads/s on anvil. On Hardhat, which traces calls, it gains little.
    block_order_reads: bool = True

    @field_validator("web3_providers", mode="before")
    @classmethod
    def _split_providers(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().startswith("["):
            return json.loads(value)
        return split_list(value)

    @property
    def provider_urls(self) -> list[str]:
        """The processor's providers in order of preference."""
        return self.web3_providers or [self.web3_provider]

    @model_validator(mode="after")
    def _require_trading(self) -> Self:
        if not self.trading_address:
            raise ValueError("TRADING_ADDRESS is required (or DEPLOYMENT_FILE naming a deployment)")
        return self

    @model_validator(mode="after")
    def _start_from_deployment(self) -> Self:
        if self.start_block is None and self.deployment_file is not None:
            try:
                deployed = json.loads(self.deployment_file.read_text())
            except (OSError, ValueError):
                return self
            same = str(deployed.get("trading", "")).lower() == self.trading_address
            if same and isinstance(deployed.get("block_number"), int):
                object.__setattr__(self, "start_block", deployed["block_number"])
        return self
