"""Injected faults: 5xx, stalls, forced 429, refused and dropped WebSockets, admin API."""

from __future__ import annotations

import time

import aiohttp
import pytest
from sim_support import frozen

from exchange_sim import FaultSettings, SimServer

PING = "/api/v3/ping"


async def statuses(http: aiohttp.ClientSession, sim: SimServer, n: int) -> list[int]:
    out = []
    for _ in range(n):
        async with http.get(sim.rest_url + PING) as resp:
            out.append(resp.status)
    return out


async def test_the_next_n_responses_fail_with_5xx_then_recover(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen()) as sim:
        sim.faults.set(error_next=3)
        got = await statuses(http, sim, 5)
    assert all(s in (500, 502, 503) for s in got[:3]) and got[3:] == [200, 200]


async def test_an_error_rate_fails_about_that_share_of_responses(
    http: aiohttp.ClientSession,
) -> None:
    faults = FaultSettings(error_rate=0.5, error_statuses=(502,))
    async with SimServer(frozen(faults=faults)) as sim:
        got = await statuses(http, sim, 60)
    assert 10 < got.count(502) < 50 and set(got) == {200, 502}


async def test_a_stall_delays_the_response(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen()) as sim:
        sim.faults.set(stall_next=1, stall_seconds=0.3)
        started = time.monotonic()
        await statuses(http, sim, 1)
        stalled = time.monotonic() - started
        started = time.monotonic()
        await statuses(http, sim, 1)
    assert stalled >= 0.3 > time.monotonic() - started


async def test_a_forced_429_opens_a_retry_after_window_that_bans_repeated_intruders(
    http: aiohttp.ClientSession,
) -> None:
    async with SimServer(frozen(ban_base_seconds=7, tolerated_in_window=2)) as sim:
        sim.faults.set(force_429_next=1, retry_after_seconds=2)
        async with http.get(sim.rest_url + PING) as resp:
            assert (resp.status, resp.headers["Retry-After"]) == (429, "2")
        # Requests that were in flight when the 429 went out: answered 429 again.
        for _ in range(2):
            async with http.get(sim.rest_url + PING) as resp:
                assert resp.status == 429 and resp.headers["Retry-After"] in ("1", "2")
        async with http.get(sim.rest_url + PING) as resp:
            assert (resp.status, resp.headers["Retry-After"]) == (418, "7")
        async with http.get(sim.rest_url + PING) as resp:  # inside the ban: no tolerance
            assert (resp.status, resp.headers["Retry-After"]) == (418, "14")
        sim.reset_limits()
        assert await statuses(http, sim, 1) == [200]


async def test_faults_and_a_low_weight_limit_can_be_set_over_http(
    http: aiohttp.ClientSession,
) -> None:
    async with SimServer(frozen()) as sim:
        body = {"error_next": 1, "weight_limit": 3}
        async with http.post(f"{sim.rest_url}/_sim/faults", json=body) as resp:
            assert resp.status == 200
        assert await statuses(http, sim, 4) in ([503, 200, 200, 429], [500, 200, 200, 429],
                                                 [502, 200, 200, 429])  # fmt: skip
        async with http.get(f"{sim.rest_url}/_sim/stats") as resp:
            stats = await resp.json()
        assert stats["requests"][PING] == 4 and stats["rate_limited"] == 1
        assert stats["weight_limit"] == 3
        async with http.post(f"{sim.rest_url}/_sim/faults", json={"nonsense": 1}) as resp:
            assert resp.status == 400


async def test_websocket_upgrades_are_refused_for_a_period(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen()) as sim:
        sim.faults.set(refuse_ws_seconds=0.3)
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(f"{sim.stream_url}/ws/btcusdt@depth5")
        assert info.value.status == 503
        time.sleep(0.3)  # noqa: ASYNC251 - nothing else to do meanwhile
        async with http.ws_connect(f"{sim.stream_url}/ws/btcusdt@depth5") as ws:
            assert (await ws.receive(timeout=2)).type == aiohttp.WSMsgType.TEXT
        assert sim.stats.ws_refused == 1


async def test_dropping_all_websockets_cuts_every_connection(http: aiohttp.ClientSession) -> None:
    async with SimServer(frozen()) as sim:
        url = f"{sim.stream_url}/ws/btcusdt@depth5"
        async with http.ws_connect(url) as a, http.ws_connect(url) as b:
            await a.receive(timeout=2)
            async with http.post(f"{sim.rest_url}/_sim/faults", json={"drop_ws": True}) as resp:
                assert (await resp.json())["dropped"] == 2
            for ws in (a, b):
                msg = await ws.receive(timeout=2)
                while msg.type == aiohttp.WSMsgType.TEXT:
                    msg = await ws.receive(timeout=2)
                assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
