// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity 0.8.26;

/// @notice What the Router needs from Trading (the `...For` entry points accept only the Router,
/// which passes its own caller as `user`) and the events Trading emits, which the indexer reads.
interface ITrading {
    event OrderCreated(
        uint256 indexed orderId, address indexed user, address tokenIn, address tokenOut, uint256 amountIn
    );
    event OrderExecuted(uint256 indexed orderId, address indexed executor, uint256 amountOut);
    event OrderCancelled(uint256 indexed orderId, address indexed user);
    event OrderModified(uint256 indexed orderId, uint256 newTargetPrice, uint256 newMinAmountOut);
    event RouterSet(address indexed router);
    event LiquidityWithdrawn(address indexed token, address indexed to, uint256 amount);

    function createOrderFor(
        address user, address tokenIn, address tokenOut, uint256 amountIn, uint256 targetPrice,
        uint256 minAmountOut, uint8 orderType, bool isLong, bool selfExecutable
    ) external payable returns (uint256 orderId);

    function modifyOrderFor(address user, uint256 orderId, uint256 newTargetPrice, uint256 newMinAmountOut)
        external;

    function cancelOrderFor(address user, uint256 orderId) external;

    function executeOrder(uint256 orderId) external returns (uint256 amountOut);
}
