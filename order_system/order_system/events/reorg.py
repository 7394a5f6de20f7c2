"""Finding where the node's chain and the stored block hashes part ways, and the guardrails
that keep a lagging or lying node from rolling back good data.

A rollback is acted on only when
- the node's chain is at least as long as the one indexed (its head is not below the
  checkpoint): a node that lags, or briefly serves a shorter fork, is waited for;
- it does not undo the node's finalized block, where the node reports one (Chain.finalized);
- deeper than `ReorgGuard.confirm_depth` blocks, a second provider (Providers) has the same
  common ancestor.
Otherwise ReorgDeferred: nothing is rolled back, and the processor's caller looks again later."""

from __future__ import annotations

import logging

from order_system.events.chain import Chain, Header
from order_system.events.guard import ReorgGuard
from order_system.providers import Providers, display_name
from order_system.rpc import RpcError, RpcUnavailable

log = logging.getLogger(__name__)


class Halt(RuntimeError):
    """A condition the processor must not paper over: it stops with this message as an alert."""


class ReorgDeferred(RuntimeError):
    """A rollback the node's answers do not justify yet; nothing was rolled back. `lagging`:
    the provider in use serves a chain shorter than the one indexed."""

    def __init__(self, message: str, *, lagging: bool = False) -> None:
        super().__init__(message)
        self.lagging = lagging


def common_ancestor(stored: dict[int, str], canonical: dict[int, Header]) -> int | None:
    """The highest stored block whose hash the node still has at that height (pure)."""
    for number in sorted(stored, reverse=True):
        header = canonical.get(number)
        if header is not None and header.hash == stored[number]:
            return number
    return None


def _defer(guard: ReorgGuard, message: str, *, lagging: bool = False) -> ReorgDeferred:
    guard.defer(message)
    log.warning("not rolling back: %s; looking again later", message)
    return ReorgDeferred(message, lagging=lagging)


async def find_ancestor(chain: Chain, stored: dict[int, str], processed: int) -> Header:
    """The canonical header to roll back to; Halt when it lies beyond the stored window,
    ReorgDeferred when a guardrail (module doc) holds the rollback back."""
    canonical = await chain.headers(stored)
    ancestor = common_ancestor(stored, canonical)
    head = await chain.head()
    if ancestor is None:
        oldest = min(stored, default=processed)
        if head < oldest:
            raise Halt(
                f"node restarted from genesis? its head {head} is below the oldest stored block "
                f"{oldest} (processed up to {processed}); refusing to mix chains: reset the "
                "order tables to index the new chain"
            )
        if head < processed:
            chain.guard.shorter_chain += 1
            raise _defer(
                chain.guard,
                f"the node's chain ends at block {head}, below the indexed block {processed}, "
                "and holds none of the stored block hashes",
                lagging=True,
            )
        raise Halt(
            f"reorg deeper than the window: none of the {len(stored)} stored block hashes "
            f"({oldest}..{processed}) is on the node's chain (or the node restarted from genesis "
            "and mined past them); the index is left as it was"
        )
    if ancestor < processed:
        await _guard(chain, stored, processed, ancestor, head)
    return canonical[ancestor]


async def _guard(
    chain: Chain, stored: dict[int, str], processed: int, ancestor: int, head: int
) -> None:
    guard, depth = chain.guard, processed - ancestor
    if head < processed:
        guard.shorter_chain += 1
        raise _defer(
            guard,
            f"the node's chain ends at block {head}, below the indexed block {processed}: "
            f"a shorter chain does not undo {depth} blocks",
            lagging=True,
        )
    finalized = await chain.finalized(head)
    if finalized is not None and ancestor < finalized:
        guard.below_finalized += 1
        raise _defer(
            guard,
            f"rolling back to block {ancestor} would undo blocks up to the node's finalized "
            f"block {finalized}",
        )
    providers = chain.rpc if isinstance(chain.rpc, Providers) else None
    if depth > guard.confirm_depth and providers is not None and len(providers.providers) > 1:
        await _confirm(chain, providers, stored, ancestor, depth)


async def _confirm(
    chain: Chain, providers: Providers, stored: dict[int, str], ancestor: int, depth: int
) -> None:
    """A second provider must find the same common ancestor for a deep rollback."""
    guard = chain.guard
    witnesses = providers.witnesses()
    if not witnesses:
        guard.disputed += 1
        raise _defer(guard, f"no second provider is up to confirm a {depth}-block rollback")
    witness = witnesses[0]
    name = display_name(witness.url)
    try:
        theirs = common_ancestor(stored, await Chain(witness, chain.trading).headers(stored))
    except (RpcUnavailable, RpcError) as error:
        why = str(error).replace(witness.url, name)
        guard.disputed += 1
        raise _defer(
            guard,
            f"{name} could not confirm a {depth}-block rollback ({why})",
        ) from None
    if theirs != ancestor:
        guard.disputed += 1
        raise _defer(
            guard,
            f"{name} does not confirm a {depth}-block rollback to block {ancestor}: on its chain "
            f"the stored blocks hold up to block {theirs}",
        )
    log.warning("%s confirms the %d-block rollback to block %d", name, depth, ancestor)
