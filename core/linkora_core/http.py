"""Pieces every Starlette app of the platform shares: fast JSON responses and errors."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSON(Response):
    """Compact JSON via orjson; money values are already plain decimal strings."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(message: str, status: int = 400, headers: dict[str, str] | None = None) -> JSON:
    """The platform's error body: `{"error": "..."}`."""
    return JSON({"error": message}, status_code=status, headers=headers)
