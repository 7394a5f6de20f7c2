"""`python -m api_server`: serve REST and WebSocket on API_HOST:API_PORT."""

from __future__ import annotations

import uvicorn

from api_server.app import create_app
from api_server.settings import ApiSettings
from linkora_core import logs, settings


def main() -> None:
    config = settings.load(ApiSettings)
    logs.configure(config.log_level, "api-server")
    uvicorn.run(
        create_app(config),
        host=config.api_host,
        port=config.api_port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For is read by the rate limiter, and only from TRUSTED_PROXIES.
        proxy_headers=False,
        ws="websockets-sansio",
        ws_max_size=config.ws_max_message_bytes,
        # Compressing every message once per client costs more CPU than fan-out can afford.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
