// SPDX-License-Identifier: AGPL-3.0-only
pragma solidity 0.8.26;

import {IERC20} from "./IERC20.sol";
import {IOracle} from "./IOracle.sol";
import {ITrading} from "./ITrading.sol";
import {TokenTransfers} from "./TokenTransfers.sol";

/// @title Conditional orders escrowed in ETH or ERC-20 and filled from the contract's liquidity.
/// @notice Prices are USD with 18 decimals from the Oracle; amounts are raw token units and
/// address(0) is ETH (18 decimals). An order watches the price of one asset: the token it buys
/// (`tokenOut`) when `isLong`, else the token it sells (`tokenIn`).
///   LIMIT      long: price <= targetPrice   short: price >= targetPrice
///   STOP_LOSS  long: price >= targetPrice   short: price <= targetPrice
///   MARKET     always (only `minAmountOut` protects the user)
/// CONDITIONAL is part of the interface but not accepted by this implementation.
/// Keepers execute through the Router (the event's executor is then the Router); the owner of a
/// `selfExecutable` order may execute it directly (the executor is then the owner).
contract Trading is ITrading {
    using TokenTransfers for address;

    uint8 public constant LIMIT = 0;
    uint8 public constant STOP_LOSS = 1;
    uint8 public constant MARKET = 2;
    uint8 public constant CONDITIONAL = 3;

    struct Order {
        uint256 id;
        address user;
        address tokenIn;
        address tokenOut;
        uint256 amountIn;
        uint256 targetPrice;
        uint256 minAmountOut;
        uint8 orderType;
        bool isLong;
        bool executed;
        uint256 createdAt;
        bool selfExecutable;
    }

    /// @dev An order as stored: the interface tuple's fields in 6 storage slots instead of 10
    /// (the id is the mapping key; the flags and time share the user's slot).
    struct StoredOrder {
        address user;
        uint64 createdAt;
        uint8 orderType;
        bool isLong;
        bool executed;
        bool selfExecutable;
        address tokenIn;
        address tokenOut;
        uint256 amountIn;
        uint256 targetPrice;
        uint256 minAmountOut;
    }

    IOracle public immutable oracle;
    address public owner;
    address public router;
    uint256 public orderCount;
    /// @notice Per token, the amount held for pending orders; the rest is liquidity.
    mapping(address => uint256) public escrowed;
    mapping(uint256 => StoredOrder) private _orders;
    uint256 private _lock = 1;

    error NotOwner();
    error NotRouter();
    error NotOrderOwner(uint256 orderId);
    error NotAuthorizedExecutor(uint256 orderId);
    error RouterAlreadySet();
    error ZeroAddress();
    error ZeroAmount();
    error SameToken();
    error UnsupportedOrderType(uint8 orderType);
    error ZeroTargetPrice();
    error BadEthValue(uint256 sent, uint256 expected);
    error UnsupportedToken(address token);
    error OrderNotFound(uint256 orderId);
    error OrderNotPending(uint256 orderId);
    error PriceConditionNotMet(uint256 orderId, uint256 price, uint256 targetPrice);
    error InsufficientOutput(uint256 orderId, uint256 amountOut, uint256 minAmountOut);
    error InsufficientLiquidity(address token, uint256 available, uint256 needed);
    error Reentrancy();

    constructor(address oracle_) {
        if (oracle_ == address(0)) revert ZeroAddress();
        oracle = IOracle(oracle_);
        owner = msg.sender;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    modifier onlyRouter() {
        if (msg.sender != router || router == address(0)) revert NotRouter();
        _;
    }

    modifier nonReentrant() {
        if (_lock != 1) revert Reentrancy();
        _lock = 2;
        _;
        _lock = 1;
    }

    /// @notice ETH sent without a call is liquidity.
    receive() external payable {}

    /// @notice Wires the Router once, as the last step of deployment.
    function setRouter(address router_) external onlyOwner {
        if (router != address(0)) revert RouterAlreadySet();
        if (router_ == address(0)) revert ZeroAddress();
        router = router_;
        emit RouterSet(router_);
    }

    function createOrder(
        address tokenIn, address tokenOut, uint256 amountIn, uint256 targetPrice, uint256 minAmountOut,
        uint8 orderType, bool isLong, bool selfExecutable
    ) external payable nonReentrant returns (uint256) {
        StoredOrder memory order = _newOrder(msg.sender, tokenIn, tokenOut, amountIn, targetPrice, minAmountOut, orderType);
        order.isLong = isLong;
        order.selfExecutable = selfExecutable;
        return _create(order);
    }

    function createOrderFor(
        address user, address tokenIn, address tokenOut, uint256 amountIn, uint256 targetPrice,
        uint256 minAmountOut, uint8 orderType, bool isLong, bool selfExecutable
    ) external payable onlyRouter nonReentrant returns (uint256) {
        if (user == address(0)) revert ZeroAddress();
        StoredOrder memory order = _newOrder(user, tokenIn, tokenOut, amountIn, targetPrice, minAmountOut, orderType);
        order.isLong = isLong;
        order.selfExecutable = selfExecutable;
        return _create(order);
    }

    function modifyOrder(uint256 orderId, uint256 newTargetPrice, uint256 newMinAmountOut) external {
        _modify(msg.sender, orderId, newTargetPrice, newMinAmountOut);
    }

    function modifyOrderFor(address user, uint256 orderId, uint256 newTargetPrice, uint256 newMinAmountOut)
        external
        onlyRouter
    {
        _modify(user, orderId, newTargetPrice, newMinAmountOut);
    }

    function cancelOrder(uint256 orderId) external nonReentrant {
        _cancel(msg.sender, orderId);
    }

    function cancelOrderFor(address user, uint256 orderId) external onlyRouter nonReentrant {
        _cancel(user, orderId);
    }

    /// @notice Fills a pending order at the oracle price when its condition holds.
    function executeOrder(uint256 orderId) external nonReentrant returns (uint256 amountOut) {
        StoredOrder storage order = _pending(orderId);
        address executor;
        if (msg.sender == router && router != address(0)) {
            executor = router;
        } else if (order.selfExecutable && msg.sender == order.user) {
            executor = msg.sender;
        } else {
            revert NotAuthorizedExecutor(orderId);
        }

        (bool triggered, uint256 price, uint256 out) = _evaluate(order);
        if (!triggered) revert PriceConditionNotMet(orderId, price, order.targetPrice);
        if (out < order.minAmountOut) revert InsufficientOutput(orderId, out, order.minAmountOut);
        address tokenOut = order.tokenOut;
        uint256 available = availableLiquidity(tokenOut);
        if (available < out) revert InsufficientLiquidity(tokenOut, available, out);

        order.executed = true;
        escrowed[order.tokenIn] -= order.amountIn;
        emit OrderExecuted(orderId, executor, out);
        _pay(tokenOut, order.user, out);
        return out;
    }

    /// @notice What executing now would give: whether the price condition holds and the output.
    function quote(uint256 orderId) external view returns (bool triggered, uint256 price, uint256 amountOut) {
        return _evaluate(_pending(orderId));
    }

    function getOrder(uint256 orderId) external view returns (Order memory) {
        StoredOrder storage stored = _orders[orderId];
        if (stored.user == address(0)) revert OrderNotFound(orderId);
        return Order({
            id: orderId,
            user: stored.user,
            tokenIn: stored.tokenIn,
            tokenOut: stored.tokenOut,
            amountIn: stored.amountIn,
            targetPrice: stored.targetPrice,
            minAmountOut: stored.minAmountOut,
            orderType: stored.orderType,
            isLong: stored.isLong,
            executed: stored.executed,
            createdAt: stored.createdAt,
            selfExecutable: stored.selfExecutable
        });
    }

    /// @notice Tokens (or ETH for address(0)) held beyond the pending orders' escrow.
    function availableLiquidity(address token) public view returns (uint256) {
        uint256 balance = token == address(0) ? address(this).balance : IERC20(token).balanceOf(address(this));
        uint256 held = escrowed[token];
        return balance > held ? balance - held : 0;
    }

    function withdrawLiquidity(address token, uint256 amount, address to) external onlyOwner nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        uint256 available = availableLiquidity(token);
        if (available < amount) revert InsufficientLiquidity(token, available, amount);
        emit LiquidityWithdrawn(token, to, amount);
        _pay(token, to, amount);
    }

    function _newOrder(
        address user,
        address tokenIn,
        address tokenOut,
        uint256 amountIn,
        uint256 targetPrice,
        uint256 minAmountOut,
        uint8 orderType
    ) private view returns (StoredOrder memory order) {
        if (amountIn == 0) revert ZeroAmount();
        if (tokenIn == tokenOut) revert SameToken();
        if (orderType > MARKET) revert UnsupportedOrderType(orderType);
        if (targetPrice == 0 && orderType != MARKET) revert ZeroTargetPrice();
        order.user = user;
        order.tokenIn = tokenIn;
        order.tokenOut = tokenOut;
        order.amountIn = amountIn;
        order.targetPrice = targetPrice;
        order.minAmountOut = minAmountOut;
        order.orderType = orderType;
        order.createdAt = uint64(block.timestamp);
    }

    function _create(StoredOrder memory order) private returns (uint256 orderId) {
        address tokenIn = order.tokenIn;
        uint256 amountIn = order.amountIn;
        uint256 expectedValue = tokenIn == address(0) ? amountIn : 0;
        if (msg.value != expectedValue) revert BadEthValue(msg.value, expectedValue);

        orderId = ++orderCount;
        _orders[orderId] = order;
        escrowed[tokenIn] += amountIn;

        if (tokenIn != address(0)) {
            // The payer is the caller: the user directly, or the Router holding the user's tokens.
            uint256 before = IERC20(tokenIn).balanceOf(address(this));
            tokenIn.safeTransferFrom(msg.sender, address(this), amountIn);
            if (IERC20(tokenIn).balanceOf(address(this)) - before != amountIn) revert UnsupportedToken(tokenIn);
        }
        emit OrderCreated(orderId, order.user, tokenIn, order.tokenOut, amountIn);
    }

    function _modify(address user, uint256 orderId, uint256 newTargetPrice, uint256 newMinAmountOut) private {
        StoredOrder storage order = _pending(orderId);
        if (order.user != user) revert NotOrderOwner(orderId);
        if (newTargetPrice == 0 && order.orderType != MARKET) revert ZeroTargetPrice();
        order.targetPrice = newTargetPrice;
        order.minAmountOut = newMinAmountOut;
        emit OrderModified(orderId, newTargetPrice, newMinAmountOut);
    }

    function _cancel(address user, uint256 orderId) private {
        StoredOrder storage order = _pending(orderId);
        if (order.user != user) revert NotOrderOwner(orderId);
        order.executed = true;
        address tokenIn = order.tokenIn;
        uint256 amountIn = order.amountIn;
        escrowed[tokenIn] -= amountIn;
        emit OrderCancelled(orderId, user);
        _pay(tokenIn, user, amountIn);
    }

    function _pending(uint256 orderId) private view returns (StoredOrder storage order) {
        order = _orders[orderId];
        if (order.user == address(0)) revert OrderNotFound(orderId);
        if (order.executed) revert OrderNotPending(orderId);
    }

    function _evaluate(StoredOrder storage order) private view returns (bool triggered, uint256 price, uint256 amountOut) {
        uint256 priceIn = oracle.getPrice(order.tokenIn);
        uint256 priceOut = oracle.getPrice(order.tokenOut);
        price = order.isLong ? priceOut : priceIn;
        uint256 target = order.targetPrice;
        uint8 orderType = order.orderType;
        if (orderType == MARKET) {
            triggered = true;
        } else if (orderType == LIMIT) {
            triggered = order.isLong ? price <= target : price >= target;
        } else {
            triggered = order.isLong ? price >= target : price <= target;
        }
        amountOut = _convert(order.amountIn, priceIn, _decimals(order.tokenIn), priceOut, _decimals(order.tokenOut));
    }

    /// @dev amountIn * priceIn / priceOut, rescaled from tokenIn's decimals to tokenOut's.
    function _convert(uint256 amountIn, uint256 priceIn, uint8 decIn, uint256 priceOut, uint8 decOut)
        private
        pure
        returns (uint256)
    {
        uint256 numerator = amountIn * priceIn;
        uint256 denominator = priceOut;
        if (decOut >= decIn) {
            numerator *= 10 ** (decOut - decIn);
        } else {
            denominator *= 10 ** (decIn - decOut);
        }
        return numerator / denominator;
    }

    function _decimals(address token) private view returns (uint8) {
        return token == address(0) ? 18 : IERC20(token).decimals();
    }

    function _pay(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            TokenTransfers.sendEth(to, amount);
        } else {
            token.safeTransfer(to, amount);
        }
    }
}
