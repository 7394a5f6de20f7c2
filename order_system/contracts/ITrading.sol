// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity 0.8.26;

/// @notice What the Router needs from Trading: the `...For` entry points accept only the Router,
/// which passes its own caller as `user`.
interface ITrading {
    function createOrderFor(
        address user,
        address tokenIn,
        address tokenOut,
        uint256 amountIn,
        uint256 targetPrice,
        uint256 minAmountOut,
        uint8 orderType,
        bool isLong,
        bool selfExecutable
    ) external payable returns (uint256 orderId);

    function modifyOrderFor(address user, uint256 orderId, uint256 newTargetPrice, uint256 newMinAmountOut)
        external;

    function cancelOrderFor(address user, uint256 orderId) external;

    function executeOrder(uint256 orderId) external returns (uint256 amountOut);
}
