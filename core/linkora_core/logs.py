"""Logging set up once per process: one line per record, UTC timestamps."""

from __future__ import annotations

import logging
import time


def configure(level: str, service: str) -> None:
    """Send records to stderr as `2026-01-01T00:00:00Z INFO service.module: message`."""
    formatter = logging.Formatter(
        fmt=f"%(asctime)s %(levelname)s {service}.%(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%SZ",
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-request access lines from libraries are noise at INFO; services log what matters.
    for noisy in ("uvicorn.access", "aiohttp.access", "web3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
