"""The body of GET /fapi/v1/exchangeInfo: every served symbol as a USDⓈ-M perpetual (pure).

The fields are those of Binance's response that clients read: ccxt's binanceusdm takes
contractType, deliveryDate, marginAsset, status, the precisions, filters and onboardDate.
"""

from __future__ import annotations

from collections.abc import Sequence

from exchange_sim.candle import decimal_str
from exchange_sim.config import SymbolSpec
from exchange_sim.futures.book import LOT

# Binance's "no delivery" date of perpetual contracts (2100-12-25).
PERPETUAL_DELIVERY_MS = 4_133_404_800_000
QUANTITY_PRECISION = 3


def exchange_info(
    specs: Sequence[tuple[SymbolSpec, int]], *, server_time: int, weight_limit: int
) -> dict[str, object]:
    """`specs` pairs each symbol with the open time of its first candle (its onboard date)."""
    quotes = sorted({spec.quote_asset for spec, _ in specs})
    return {
        "timezone": "UTC",
        "serverTime": server_time,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": weight_limit,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [
            {"asset": q, "marginAvailable": True, "autoAssetExchange": "-10000"} for q in quotes
        ],
        "symbols": [_symbol(spec, onboard) for spec, onboard in specs],
    }


def _symbol(spec: SymbolSpec, onboard_ms: int) -> dict[str, object]:
    tick = decimal_str(10 ** (8 - spec.decimals))
    lot = decimal_str(LOT)
    return {
        "symbol": spec.symbol,
        "pair": spec.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_MS,
        "onboardDate": onboard_ms,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": spec.decimals,
        "quantityPrecision": QUANTITY_PRECISION,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": tick,
                "maxPrice": "4529764.00000000",
                "tickSize": tick,
            },
            {"filterType": "LOT_SIZE", "minQty": lot, "maxQty": "1000.00000000", "stepSize": lot},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": lot,
                "maxQty": "120.00000000",
                "stepSize": lot,
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }
