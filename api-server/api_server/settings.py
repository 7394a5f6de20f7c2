"""API server settings: the common ones plus where to listen and what clients may do."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from linkora_core.settings import CommonSettings


class ApiSettings(CommonSettings):
    api_host: str = "0.0.0.0"  # noqa: S104 - a container service listens on every interface
    api_port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: Annotated[list[str], NoDecode] = ["*"]

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
