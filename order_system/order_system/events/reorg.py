"""Finding where the node's chain and the stored block hashes part ways."""

from __future__ import annotations

from order_system.events.chain import Chain, Header


class Halt(RuntimeError):
    """A condition the processor must not paper over: it stops with this message as an alert."""


def common_ancestor(stored: dict[int, str], canonical: dict[int, Header]) -> int | None:
    """The highest stored block whose hash the node still has at that height (pure)."""
    for number in sorted(stored, reverse=True):
        header = canonical.get(number)
        if header is not None and header.hash == stored[number]:
            return number
    return None


async def find_ancestor(chain: Chain, stored: dict[int, str], processed: int) -> Header:
    """The canonical header to roll back to; Halt when it lies beyond the stored window."""
    canonical = await chain.headers(stored)
    ancestor = common_ancestor(stored, canonical)
    if ancestor is None:
        head = await chain.head()
        oldest = min(stored, default=processed)
        if head < oldest:
            raise Halt(
                f"node restarted from genesis? its head {head} is below the oldest stored block "
                f"{oldest} (processed up to {processed}); refusing to mix chains: reset the "
                "order tables to index the new chain"
            )
        raise Halt(
            f"reorg deeper than the window: none of the {len(stored)} stored block hashes "
            f"({oldest}..{processed}) is on the node's chain (or the node restarted from genesis "
            "and mined past them); the index is left as it was"
        )
    return canonical[ancestor]
