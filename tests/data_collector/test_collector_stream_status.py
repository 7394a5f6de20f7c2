"""The live streams' connection state with several venues: the service-wide flag is up only
while every stream is, and health and metrics say which venue's streams are down."""

from __future__ import annotations

from collector_helpers import FAST, HarnessFactory, SimFactory

from data_collector.bybit_protocol import BybitProtocol
from data_collector.metrics import registry_for
from data_collector.venue_stream import VenueStream
from tests.polling import eventually


async def test_one_venue_down_is_named_and_the_service_flag_is_down(
    make_sim: SimFactory, make_collector: HarnessFactory
) -> None:
    sim = await make_sim(symbols=("BTCUSDT",), **FAST)
    harness = make_collector(
        sim,
        markets="bybit:spot:BTCUSDT",
        bybit_base_url=sim.rest_url,
        bybit_stream_url="ws://127.0.0.1:9",  # nothing listens there: Bybit never connects
        audit_interval=3600,
    )
    collector = harness.collector
    harness.start()
    await harness.wait_backfilled()
    await eventually(lambda: collector.health()["venues"]["binance-spot"]["websocket_connected"])
    venues = collector.health()["venues"]
    assert venues["bybit-spot"]["websocket_connected"] is False
    assert collector.status.websocket_connected is False
    registry = registry_for(collector)
    assert (
        registry.get_sample_value("collector_venue_websocket_connected", {"venue": "binance-spot"})
        == 1
    )
    assert (
        registry.get_sample_value("collector_venue_websocket_connected", {"venue": "bybit-spot"})
        == 0
    )
    assert registry.get_sample_value("collector_websocket_connected") == 0

    # Bybit's stream pointed at the simulator: both venues up, and so is the service flag.
    (bybit,) = collector.streams[next(v for v in collector.streams if v.key == "bybit-spot")]
    assert isinstance(bybit, VenueStream) and isinstance(bybit.protocol, BybitProtocol)
    bybit.protocol.url = f"{sim.stream_url}/v5/public/spot"
    await eventually(lambda: collector.status.websocket_connected, within=40)
    assert registry.get_sample_value("collector_websocket_connected") == 1
