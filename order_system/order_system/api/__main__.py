"""`python -m order_system.api`: serve the order API on API_HOST:ORDER_API_PORT."""

from __future__ import annotations

from linkora_core import http, logs, settings
from order_system.api.app import create_app
from order_system.settings import OrderSettings


def main() -> None:
    config = settings.load(OrderSettings)
    logs.configure(config.log_level, "order-api")
    http.serve(create_app(config), config, config.order_api_port)


if __name__ == "__main__":
    main()
