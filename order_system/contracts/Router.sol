// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity 0.8.26;

import {ITrading} from "./ITrading.sol";
import {TokenTransfers} from "./TokenTransfers.sol";

/// @notice Entry point for users (create, modify, cancel orders with ETH or ERC-20 tokens) and
/// for keepers (execute). Users approve this Router for ERC-20 amounts; it passes them on to
/// Trading within the same transaction and never keeps them.
contract Router {
    using TokenTransfers for address;

    ITrading public immutable trading;
    address public owner;
    mapping(address => bool) public isKeeper;

    event KeeperSet(address indexed keeper, bool allowed);
    event ExecutionFailed(uint256 indexed orderId, bytes reason);

    error NotOwner();
    error NotKeeper();
    error ZeroAddress();

    constructor(address trading_) {
        if (trading_ == address(0)) revert ZeroAddress();
        trading = ITrading(trading_);
        owner = msg.sender;
        isKeeper[msg.sender] = true;
        emit KeeperSet(msg.sender, true);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    modifier onlyKeeper() {
        if (!isKeeper[msg.sender]) revert NotKeeper();
        _;
    }

    function setKeeper(address keeper, bool allowed) external onlyOwner {
        isKeeper[keeper] = allowed;
        emit KeeperSet(keeper, allowed);
    }

    function createOrder(
        address tokenIn, address tokenOut, uint256 amountIn, uint256 targetPrice, uint256 minAmountOut,
        uint8 orderType, bool isLong, bool selfExecutable
    ) external payable returns (uint256) {
        if (tokenIn != address(0)) {
            tokenIn.safeTransferFrom(msg.sender, address(this), amountIn);
            tokenIn.safeApprove(address(trading), amountIn);
        }
        return trading.createOrderFor{value: msg.value}(
            msg.sender, tokenIn, tokenOut, amountIn, targetPrice, minAmountOut, orderType, isLong, selfExecutable
        );
    }

    function modifyOrder(uint256 orderId, uint256 newTargetPrice, uint256 newMinAmountOut) external {
        trading.modifyOrderFor(msg.sender, orderId, newTargetPrice, newMinAmountOut);
    }

    function cancelOrder(uint256 orderId) external {
        trading.cancelOrderFor(msg.sender, orderId);
    }

    function executeOrder(uint256 orderId) external onlyKeeper returns (uint256) {
        return trading.executeOrder(orderId);
    }

    /// @notice Executes what it can; an order that fails is reported and skipped.
    function executeOrders(uint256[] calldata orderIds) external onlyKeeper returns (uint256 executed) {
        for (uint256 i = 0; i < orderIds.length; ++i) {
            try trading.executeOrder(orderIds[i]) returns (uint256) {
                ++executed;
            } catch (bytes memory reason) {
                emit ExecutionFailed(orderIds[i], reason);
            }
        }
    }
}
