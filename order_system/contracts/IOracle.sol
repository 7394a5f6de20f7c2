// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity 0.8.26;

interface IOracle {
    /// @return price USD per whole token with 18 decimals; address(0) is ETH.
    function getPrice(address token) external view returns (uint256 price);
}
