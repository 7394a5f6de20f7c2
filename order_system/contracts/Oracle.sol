// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity 0.8.26;

/// @notice USD prices with 18 decimals per token address; address(0) is ETH.
/// The owner and the keepers it appoints may update prices.
contract Oracle {
    address public owner;
    mapping(address => bool) public isKeeper;
    mapping(address => uint256) public prices;
    mapping(address => uint256) public updatedAt;

    event PriceUpdated(address indexed token, uint256 price, uint256 timestamp);
    event KeeperSet(address indexed keeper, bool allowed);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner();
    error NotAuthorized();
    error PriceNotSet(address token);
    error ZeroPrice();
    error LengthMismatch();
    error ZeroAddress();

    constructor() {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    modifier onlyUpdater() {
        if (msg.sender != owner && !isKeeper[msg.sender]) revert NotAuthorized();
        _;
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function setKeeper(address keeper, bool allowed) external onlyOwner {
        isKeeper[keeper] = allowed;
        emit KeeperSet(keeper, allowed);
    }

    function setPrice(address token, uint256 price) external onlyUpdater {
        _setPrice(token, price);
    }

    function setPrices(address[] calldata tokens, uint256[] calldata newPrices) external onlyUpdater {
        if (tokens.length != newPrices.length) revert LengthMismatch();
        for (uint256 i = 0; i < tokens.length; ++i) {
            _setPrice(tokens[i], newPrices[i]);
        }
    }

    /// @return price USD per whole token, 18 decimals; reverts when never set.
    function getPrice(address token) external view returns (uint256 price) {
        price = prices[token];
        if (price == 0) revert PriceNotSet(token);
    }

    function _setPrice(address token, uint256 price) private {
        if (price == 0) revert ZeroPrice();
        prices[token] = price;
        updatedAt[token] = block.timestamp;
        emit PriceUpdated(token, price, block.timestamp);
    }
}
