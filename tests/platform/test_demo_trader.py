"""The demo trader's arithmetic: oracle prices and token amounts scaled exactly."""

from __future__ import annotations

import importlib.util
import random
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

TRADER = Path(__file__).resolve().parents[2] / "demo" / "trader.py"


@pytest.fixture(scope="module")
def trader() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_trader", TRADER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("price", "units"),
    [
        ("41561.31", 41_561_310_000_000_000_000_000),
        ("2492.26", 2_492_260_000_000_000_000_000),
        ("123456789.123456789123456789", 123_456_789_123_456_789_123_456_789),
        ("0.000000000000000001", 1),
    ],
)
def test_oracle_prices_are_scaled_to_18_decimals_exactly(
    trader: ModuleType, price: str, units: int
) -> None:
    assert trader.to_price_units(Decimal(price)) == units


def test_amounts_use_each_tokens_decimals(trader: ModuleType) -> None:
    usdc = trader.Asset("USDC", "0x", 6, Decimal("20"), Decimal("2000"), Decimal("0.01"))
    wbtc = trader.Asset("WBTC", "0x", 8, Decimal("0.0005"), Decimal("0.02"), Decimal("0.00001"))
    assert usdc.units(Decimal("123.45")) == 123_450_000
    assert wbtc.units(Decimal("0.01234567")) == 1_234_567
    rng = random.Random(7)
    for _ in range(100):
        amount = wbtc.random_amount(rng)
        assert Decimal("0.0005") <= amount <= Decimal("0.02")
        assert amount % Decimal("0.00001") == 0


def test_an_order_watches_the_asset_it_buys_when_long_and_sells_when_short(
    trader: ModuleType,
) -> None:
    assert trader.Pair("USDC", "ETH", is_long=True).watched == "ETH"
    assert trader.Pair("WBTC", "USDC", is_long=False).watched == "WBTC"
    watched = {pair.watched for pair in trader.PAIRS}
    assert watched == set(trader.MARKETS)  # every order follows a price the trader moves
