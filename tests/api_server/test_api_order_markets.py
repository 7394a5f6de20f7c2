"""`ORDER_MARKETS`: which market's chart shows which DEX token pair, checked at start-up."""

from __future__ import annotations

import pytest

from api_server.order_markets import Pair, pairs_by_symbol, parse
from api_server.settings import ApiSettings
from linkora_core.settings import load

WETH = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
ETH = "0x" + "0" * 40


def test_a_comma_list_and_a_json_object_give_the_same_normalised_mapping() -> None:
    listed = parse(f" {WETH}/{USDT}=ethusdt , {ETH}/{USDT}=ETHUSDT,")
    assert listed == parse(f'{{"{WETH}/{USDT}": "ethusdt", "{ETH}/{USDT}": "ETHUSDT"}}')
    assert listed == {
        f"{WETH.lower()}/{USDT.lower()}": "ETHUSDT",
        f"{ETH}/{USDT.lower()}": "ETHUSDT",
    }
    assert pairs_by_symbol(listed) == {
        "ETHUSDT": (Pair(WETH.lower(), USDT.lower()), Pair(ETH, USDT.lower()))
    }
    assert parse("") == {} and parse({}) == {}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (f"{WETH}/{USDT}", "has no `=SYMBOL`"),
        (f"{WETH}={USDT}", "the pair must be `0xBASE/0xQUOTE`"),
        (f"0xC02a/{USDT}=ETHUSDT", "'0xC02a' is not a 0x-prefixed 40-hex-digit address"),
        (f"{WETH}/{WETH.lower()}=ETHUSDT", "base and quote are the same token"),
        (f"{WETH}/{USDT}=ETH-USDT", "the market must be a symbol like ETHUSDT"),
        (f"{WETH}/{USDT}=ETHUSDT,{USDT}/{WETH}=ETHUSDT", "already mapped to ETHUSDT"),
        ('{"a": 1', "not valid JSON"),
        (f'["{WETH}/{USDT}=ETHUSDT"]', "expected `0xBASE/0xQUOTE=SYMBOL` entries"),
        (f'{{"{WETH}/{USDT}": 7}}', "the market must be a symbol like ETHUSDT"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_entry(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace("[", r"\[")):
        parse(value)


def test_the_api_server_refuses_to_start_with_a_bad_mapping(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORDER_MARKETS", f"{WETH}/0x12=ETHUSDT")
    with pytest.raises(SystemExit) as stopped:
        load(ApiSettings)
    assert stopped.value.code == 2
    assert capsys.readouterr().err == (
        f"configuration error: ORDER_MARKETS: '{WETH}/0x12=ETHUSDT': "
        "'0x12' is not a 0x-prefixed 40-hex-digit address\n"
    )
    monkeypatch.setenv("ORDER_MARKETS", f"{WETH}/{USDT}=ETHUSDT")
    assert load(ApiSettings).order_market_pairs["ETHUSDT"] == (Pair(WETH.lower(), USDT.lower()),)
