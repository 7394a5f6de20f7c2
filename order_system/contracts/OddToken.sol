// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity 0.8.26;

/// @notice A test ERC-20 whose `decimals()` reverts or answers any uint256 (above the 77 an
/// amount can be scaled by, above a smallint): the indexer must index its orders with raw
/// amounts, never stop on them. Transfers work, so it can be an order's tokenIn.
contract OddToken {
    uint256 private immutable _decimals;
    bool private immutable _reverts;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    error NoDecimals();

    constructor(uint256 decimals_, bool reverts_) {
        _decimals = decimals_;
        _reverts = reverts_;
    }

    function decimals() external view returns (uint256) {
        if (_reverts) revert NoDecimals();
        return _decimals;
    }

    function mint(address to, uint256 amount) external {
        balanceOf[to] += amount;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        allowance[from][msg.sender] -= value;
        balanceOf[from] -= value;
        balanceOf[to] += value;
        return true;
    }
}
