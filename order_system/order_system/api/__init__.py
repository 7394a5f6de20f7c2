"""The order API: REST over the indexed orders (ORDER_API_PORT, default 8080)."""
