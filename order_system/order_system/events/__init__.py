"""The event processor: an exact, reorg-safe index of the Trading contract's order events."""
