"""Market names: settings and query parameters to (venue, symbol), and the names back."""

import pytest

from linkora_core.markets import (
    BINANCE_SPOT,
    VENUES,
    Exchange,
    Kind,
    Market,
    Venue,
    parse_market,
    venue,
    venue_of_key,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("btcusdt", Market(BINANCE_SPOT, "BTCUSDT")),
        (" ETHUSDT ", Market(BINANCE_SPOT, "ETHUSDT")),
        ("binance:usdm:BTCUSDT", Market(Venue(Exchange.BINANCE, Kind.USDM), "BTCUSDT")),
        ("Bybit:Linear:btcusdt", Market(Venue(Exchange.BYBIT, Kind.LINEAR), "BTCUSDT")),
        ("okx:swap:BTC-USDT-SWAP", Market(Venue(Exchange.OKX, Kind.SWAP), "BTC-USDT-SWAP")),
        ("okx:BTC-USDT", Market(Venue(Exchange.OKX, Kind.SPOT), "BTC-USDT")),
        ("whitebit:spot:btc_usdt", Market(Venue(Exchange.WHITEBIT, Kind.SPOT), "BTC_USDT")),
    ],
)
def test_a_market_is_read_from_its_settings_name(text: str, expected: Market) -> None:
    assert parse_market(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "B",
        "BTC USDT",
        "-BTCUSDT",
        "BTCUSDT_",
        "X" * 33,
        "kraken:spot:BTCUSD",
        "whitebit:swap:BTC_USDT",
        "okx:spot:swap:BTC",
        "binance:spot:BTC/USDT",
    ],
)
def test_anything_else_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid|unknown"):
        parse_market(text)


def test_binance_spot_is_named_as_before_and_the_others_in_full() -> None:
    assert str(parse_market("BTCUSDT")) == "BTCUSDT"
    assert str(parse_market("bybit:linear:BTCUSDT")) == "bybit:linear:BTCUSDT"
    assert [str(parse_market(str(Market(v, "BTCUSDT")))) for v in VENUES] == [
        str(Market(v, "BTCUSDT")) for v in VENUES
    ]


def test_a_client_naming_no_exchange_gets_binance_spot_and_no_kind_the_spot_market() -> None:
    assert venue(None) == venue("") == venue(None, "spot") == BINANCE_SPOT
    assert venue("OKX") == Venue(Exchange.OKX, Kind.SPOT)
    assert venue("okx", "SWAP") == Venue(Exchange.OKX, Kind.SWAP)
    with pytest.raises(ValueError, match="needs an exchange"):
        venue(None, "linear")
    with pytest.raises(ValueError, match=r"one of \['spot', 'linear'\]"):
        venue("bybit", "swap")


def test_every_venue_key_names_the_venue_and_fits_the_column_check() -> None:
    assert [venue_of_key(v.key) for v in VENUES] == list(VENUES)
    assert BINANCE_SPOT.key == "binance-spot"  # the column default of migration 0013
    with pytest.raises(ValueError):
        venue_of_key("binance")
