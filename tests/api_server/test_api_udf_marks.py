"""UDF `/marks` and `/timescale_marks`: the DEX's executed and cancelled orders, read from the
order index's own `orders` rows, on the chart of the market their token pair maps to."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from api_server.order_markets import Pair
from api_server.order_marks import closed_orders
from tests.http_checks import asgi_client

WETH = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
WBTC = "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599"
ODD = "0x5fbdb2315678afecb367f032d93f642f64180aa3"  # decimals() unusable: amounts raw
ETH = "0x" + "0" * 40
USER = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"
ROUTER = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
MARKETS = (
    f"{WETH}/{USDT}=ETHUSDT, {ETH}/{USDT}=ETHUSDT, {WBTC}/{USDT}=BTCUSDT, {ODD}/{USDT}=ODDUSDT"
)
HOUR = datetime(2024, 5, 1, 12, tzinfo=UTC)
FROM, TO = int(HOUR.timestamp()), int(HOUR.timestamp()) + 7200
RANGE = f"resolution=60&from={FROM}&to={TO}"


@pytest.fixture
def app_settings(app_settings: dict[str, Any]) -> dict[str, Any]:
    return {**app_settings, "order_markets": MARKETS}


def _at(minutes: int) -> datetime:
    return HOUR + timedelta(minutes=minutes)


def _hash(n: int) -> str:
    return f"0x{n:064x}"


async def _order(
    db: asyncpg.Pool,
    order_id: int,
    token_in: str,
    token_out: str,
    amount_in: str,
    status: str,
    closed: datetime | None,
    *,
    amount_out: str | None = None,
    target_price: str = "3012.5",
    min_amount_out: str = "0.3",
) -> None:
    """An `orders` row as the event processor writes it (amounts already scaled)."""
    created = HOUR - timedelta(hours=5)
    executed = status == "EXECUTED"
    await db.execute(
        "INSERT INTO orders (id, user_address, token_in, token_out, amount_in, target_price, "
        "min_amount_out, order_type, is_long, self_executable, status, created_at, executed_at, "
        "updated_at, tx_hash, block_number, executor_address, amount_out, execution_tx_hash) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, 'LIMIT', $8, false, $9, $10, $11, $12, $13, $14, "
        "$15, $16, $17)",
        order_id,
        USER,
        token_in,
        token_out,
        Decimal(amount_in),
        Decimal(target_price),
        Decimal(min_amount_out),
        token_in == USDT,
        status,
        created,
        closed if executed else None,
        closed or created,
        _hash(order_id),
        100 + order_id,
        ROUTER if executed else None,
        None if amount_out is None else Decimal(amount_out),
        _hash(1000 + order_id) if executed else None,
    )
    if status == "CANCELLED":
        await db.execute(
            "INSERT INTO order_events (order_id, event_type, old_status, new_status, tx_hash, "
            "block_number, block_hash, log_index, occurred_at, event_data) "
            "VALUES ($1, 'CANCELLED', 'PENDING', 'CANCELLED', $2, $3, $4, 0, $5, $6)",
            order_id,
            _hash(2000 + order_id),
            500 + order_id,
            _hash(3000 + order_id),
            closed,
            f'{{"orderId": {order_id}, "user": "{USER}"}}',
        )


@pytest.fixture
async def orders(clean_db: asyncpg.Pool) -> asyncpg.Pool:
    """ETH against USDT both ways and as WETH or native ETH, one pending, one on another pair,
    one outside the range; WETH has 18 decimals, USDT 6, ODD none usable."""
    await clean_db.executemany(
        "INSERT INTO token_decimals (token_address, decimals) VALUES ($1, $2)",
        [(WETH, 18), (USDT, 6), (ETH, 18), (WBTC, 8), (ODD, None)],
    )
    done = "EXECUTED"
    await _order(clean_db, 7, WETH, USDT, "0.5", done, _at(1) + timedelta(seconds=30),
                 amount_out="1506.250001")  # fmt: skip
    await _order(clean_db, 8, USDT, WETH, "1000", "CANCELLED", _at(70))
    tiny = "0.000000000000000001"
    await _order(clean_db, 9, USDT, ETH, "0.000001", done, _at(75),
                 amount_out="0.000000000000000332", target_price=tiny)  # fmt: skip
    await _order(clean_db, 10, WETH, USDT, "2", "PENDING", None)
    await _order(clean_db, 11, WBTC, USDT, "0.01", done, _at(5), amount_out="650")
    await _order(clean_db, 12, WETH, USDT, "1", done, _at(180), amount_out="3000")
    await _order(clean_db, 13, ODD, USDT, "123456789", done, _at(2), amount_out="12")
    return clean_db


async def test_marks_show_executed_and_cancelled_orders_either_way_on_their_bars(
    client: httpx.AsyncClient, orders: asyncpg.Pool
) -> None:
    table = (await client.get(f"/udf/marks?symbol=ethusdt&{RANGE}")).json()
    assert table["id"] == [7, 8, 9]
    assert table["time"] == [FROM, FROM + 3600, FROM + 3600]
    assert table["label"] == ["S", "B", "B"]
    assert table["color"] == [
        {"border": "#ef5350", "background": "#ef5350"},
        {"border": "#8a94a6", "background": "#8a94a6"},
        {"border": "#26a69a", "background": "#26a69a"},
    ]
    assert table["minSize"] == [14, 10, 14] and table["labelFontColor"] == ["#ffffff"] * 3
    assert table["text"][0] == (
        "Sell · EXECUTED · LIMIT #7\n"
        "Amount in: 0.5 of 0xc02a…6cc2\n"
        "Amount out: 1506.250001 of 0xdac1…1ec7\n"
        "Price: 3012.5 USD (target)\n"
        f"Tx: {_hash(1007)}"
    )
    assert table["text"][1] == (
        "Buy · CANCELLED · LIMIT #8\n"
        "Amount in: 1000 of 0xdac1…1ec7\n"
        "Min amount out: 0.3 of 0xc02a…6cc2\n"
        "Price: 3012.5 USD (target)\n"
        f"Tx: {_hash(2008)}"
    )
    assert "Amount out: 0.000000000000000332 of 0x0000…0000" in table["text"][2]
    assert "Price: 0.000000000000000001 USD" in table["text"][2]


async def test_timescale_marks_carry_the_same_orders_with_tooltip_lines(
    client: httpx.AsyncClient, orders: asyncpg.Pool
) -> None:
    marks = (await client.get(f"/udf/timescale_marks?symbol=ETHUSDT&{RANGE}")).json()
    assert [(m["id"], m["time"], m["label"], m["color"]) for m in marks] == [
        (7, FROM, "S", "#ef5350"),
        (8, FROM + 3600, "B", "#8a94a6"),
        (9, FROM + 3600, "B", "#26a69a"),
    ]
    assert marks[1]["tooltip"] == [
        "Buy · CANCELLED · LIMIT #8",
        "Amount in: 1000 of 0xdac1…1ec7",
        "Min amount out: 0.3 of 0xc02a…6cc2",
        "Price: 3012.5 USD (target)",
        f"Tx: {_hash(2008)}",
    ]


async def test_a_mark_sits_on_the_bar_of_the_requested_resolution(
    client: httpx.AsyncClient, orders: asyncpg.Pool
) -> None:
    minutes = await client.get(f"/udf/marks?symbol=ETHUSDT&resolution=1&from={FROM}&to={TO}")
    assert minutes.json()["time"] == [FROM + 60, FROM + 70 * 60, FROM + 75 * 60]
    day = int(HOUR.replace(hour=0).timestamp())
    days = await client.get(f"/udf/marks?symbol=ETHUSDT&resolution=1D&from={day}&to={day}")
    # The whole day's bar: order 12, three hours later, is on it too.
    assert days.json()["id"] == [7, 8, 9, 12] and set(days.json()["time"]) == {day}


async def test_a_token_of_unknown_decimals_shows_raw_units(
    client: httpx.AsyncClient, orders: asyncpg.Pool
) -> None:
    table = (await client.get(f"/udf/marks?symbol=ODDUSDT&{RANGE}")).json()
    assert table["id"] == [13]
    assert "Amount in: 123456789 raw units of 0x5fbd…0aa3" in table["text"][0]
    assert "Amount out: 12 of 0xdac1…1ec7" in table["text"][0]


async def test_a_symbol_without_a_pair_or_a_range_without_orders_answers_no_marks(
    client: httpx.AsyncClient, orders: asyncpg.Pool
) -> None:
    columns = ["id", "time", "color", "text", "label", "labelFontColor", "minSize"]
    empty: dict[str, list[object]] = {name: [] for name in columns}
    assert (await client.get(f"/udf/marks?symbol=BNBUSDT&{RANGE}")).json() == empty
    assert (await client.get(f"/udf/timescale_marks?symbol=BNBUSDT&{RANGE}")).json() == []
    early = f"resolution=60&from={FROM - 86_400}&to={FROM - 7200}"
    assert (await client.get(f"/udf/marks?symbol=ETHUSDT&{early}")).json() == empty
    btc = (await client.get(f"/udf/marks?symbol=BTCUSDT&{RANGE}")).json()
    assert btc["id"] == [11] and btc["label"] == ["S"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"resolution=60&from={FROM}&to={TO}", "symbol parameter is required"),
        (f"symbol=ETH-USDT&{RANGE}", "Invalid symbol"),
        (f"symbol=ETHUSDT&resolution=7&from={FROM}&to={TO}", "Invalid resolution. Supported: "),
        (f"symbol=ETHUSDT&from={FROM}&to={TO}", "Invalid resolution. Supported: "),
        (f"symbol=ETHUSDT&resolution=60&to={TO}", "from parameter is required"),
        (f"symbol=ETHUSDT&resolution=60&from={FROM}", "to parameter is required"),
        (f"symbol=ETHUSDT&resolution=60&from={FROM}&to=soon", "to must be an integer"),
        (f"symbol=ETHUSDT&resolution=60&from={TO}&to={FROM}", "from must not be after to"),
    ],
)
@pytest.mark.parametrize("path", ["/udf/marks", "/udf/timescale_marks"])
async def test_bad_parameters_are_a_400_naming_the_problem(
    client: httpx.AsyncClient, orders: asyncpg.Pool, path: str, query: str, message: str
) -> None:
    response = await client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


async def test_config_advertises_marks_only_with_a_mapping(
    client: httpx.AsyncClient, make_app: Callable[..., Starlette], clean_db: asyncpg.Pool
) -> None:
    config = (await client.get("/udf/config")).json()
    assert config["supports_marks"] is True and config["supports_timescale_marks"] is True
    plain = make_app(rate_limit_per_second=0)
    async with plain.router.lifespan_context(plain), asgi_client(plain, "http://api") as other:
        body = (await other.get("/udf/config")).content
        marks = await other.get(f"/udf/marks?symbol=ETHUSDT&{RANGE}")
    assert b'"supports_marks":false' in body and b'"supports_timescale_marks":false' in body
    assert marks.status_code == 200 and marks.json()["id"] == []


async def test_the_newest_orders_are_kept_when_a_range_holds_more_than_the_cap(
    orders: asyncpg.Pool,
) -> None:
    pairs = [Pair(WETH, USDT), Pair(ETH, USDT)]
    start = int(HOUR.timestamp()) * 1000
    found = await closed_orders(orders, pairs, start, start + 4 * 3_600_000, limit=2)
    assert [o.id for o in found] == [9, 12]
    assert [o.closed_at for o in found] == sorted(o.closed_at for o in found)
