"""`python -m api_server`: serve REST and WebSocket on API_HOST:API_PORT."""

from __future__ import annotations

from api_server.app import create_app
from api_server.settings import ApiSettings
from api_server.ws_protocol import UVICORN_OPTIONS
from linkora_core import http, logs, settings


def main() -> None:
    config = settings.load(ApiSettings)
    logs.configure(config.log_level, "api-server")
    http.serve(
        create_app(config),
        config,
        config.api_port,
        ws_max_size=config.ws_max_message_bytes,
        **UVICORN_OPTIONS,
    )


if __name__ == "__main__":
    main()
