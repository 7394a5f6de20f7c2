"""Addresses as both the indexer and the API write them: EIP-55 checksummed."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from eth_utils.address import to_checksum_address

# Checksumming hashes the address; the same users and tokens recur in nearly every event.
checksum: Callable[[str], str] = lru_cache(maxsize=65536)(to_checksum_address)
