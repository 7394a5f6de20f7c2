// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity 0.8.26;

/// @notice Reads many orders of a Trading contract in one `eth_call`. Never deployed: the
/// event processor runs its runtime code at an unused address through eth_call's state
/// override (`{reader: {code: ...}}`), at the block whose state it needs. Each answer is the
/// raw return data of `getOrder(id)`, so it decodes exactly like a direct call; a reverting
/// `getOrder` reverts the whole call with its own revert data.
///
/// The loop is assembly writing each answer straight into the returned `bytes[]`: a node that
/// traces calls (Hardhat) pays for every step of this frame, and the Solidity equivalent takes
/// many more steps and copies per order.
contract OrderReader {
    function getOrders(address trading, uint256[] calldata ids)
        external
        view
        returns (bytes[] memory)
    {
        assembly {
            let count := ids.length
            // From 0x80 (memory nothing else uses, so still zero): the ABI encoding of bytes[]:
            // its offset, its length, one offset per answer (counted from the first offset
            // slot), then each answer as its length and its data padded to whole words.
            let out := 0x80
            mstore(out, 0x20)
            mstore(add(out, 0x20), count)
            let table := add(out, 0x40)
            let next := add(table, mul(count, 0x20))
            // getOrder(uint256) calldata in the scratch space: the selector, then the id.
            mstore(0, shl(224, 0xd09ef241))
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                mstore(4, calldataload(add(ids.offset, mul(i, 0x20))))
                if iszero(staticcall(gas(), trading, 0, 0x24, 0, 0)) {
                    returndatacopy(0, 0, returndatasize())
                    revert(0, returndatasize())
                }
                let size := returndatasize()
                mstore(add(table, mul(i, 0x20)), sub(next, table))
                mstore(next, size)
                returndatacopy(add(next, 0x20), 0, size)
                next := add(next, add(0x20, and(add(size, 0x1f), not(0x1f))))
            }
            return(out, sub(next, out))
        }
    }
}
