from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from linkora_core import epoch


def test_epoch_ms_round_trips_exactly() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 59, 999_000, tzinfo=UTC)
    assert epoch.to_ms(moment) == 1_709_251_199_999
    assert epoch.to_datetime(1_709_251_199_999) == moment


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_every_millisecond_survives_the_round_trip(ms: int) -> None:
    assert epoch.to_ms(epoch.to_datetime(ms)) == ms


def test_a_minute_floors_and_closes_like_binance_klines() -> None:
    assert epoch.floor_minute(1_700_000_059_999) == 1_700_000_040_000
    assert epoch.minute_close_ms(1_700_000_040_000) == 1_700_000_099_999
    assert epoch.MINUTE_MS == 60_000 and epoch.DAY_MS == 86_400_000
