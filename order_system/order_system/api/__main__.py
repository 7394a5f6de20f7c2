"""`python -m order_system.api`: serve the order API on API_HOST:ORDER_API_PORT."""

from __future__ import annotations

import uvicorn

from linkora_core import logs, settings
from order_system.api.app import create_app
from order_system.settings import OrderSettings


def main() -> None:
    config = settings.load(OrderSettings)
    logs.configure(config.log_level, "order-api")
    uvicorn.run(
        create_app(config),
        host=config.api_host,
        port=config.order_api_port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
