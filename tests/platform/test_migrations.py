"""The schema: versioned migrations on plain PostgreSQL, idempotent and concurrency-safe."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkora_core.migrations import MigrationError, apply_migrations, discover

_SCHEMA_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = 'public'
        ORDER BY table_name, ordinal_position""",
    "constraints": """
        SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = 'public' ORDER BY 1, 2",
    "views": "SELECT table_name, view_definition FROM information_schema.views "
    "WHERE table_schema = 'public' ORDER BY 1",
    "history": "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY 1",
}


async def _schema(
    connection: asyncpg.Connection, *, history: bool = True
) -> dict[str, list[tuple[object, ...]]]:
    return {
        name: [tuple(row) for row in await connection.fetch(query)]
        for name, query in _SCHEMA_QUERIES.items()
        if history or name != "history"
    }


async def test_applying_migrations_twice_leaves_the_schema_unchanged(empty_database: str) -> None:
    connection = await asyncpg.connect(empty_database)
    try:
        first = await apply_migrations(connection)
        before = await _schema(connection)
        second = await apply_migrations(connection)
        after = await _schema(connection)
    finally:
        await connection.close()
    assert [m.version for m in first] == [m.version for m in discover()]
    assert second == []
    assert after == before
    assert {row[0] for row in before["columns"]} >= {
        "candles",
        "orderbook_data",
        "collector_state",
        "orders",
        "order_events",
        "system_state",
        "processed_events",
        "block_hashes",
        "candle_rollups",
    }


async def test_every_migration_file_run_again_right_after_itself_changes_nothing(
    empty_database: str,
) -> None:
    """Each file on the schema it was written for: the files before it applied, then itself.
    (An older file run again after a later one replaced what it made, such as 0010's view
    where 0002 made a table, is not a case the runner ever meets.)"""
    connection = await asyncpg.connect(empty_database)
    try:
        for migration in discover():
            await connection.execute(migration.sql)
            before = await _schema(connection, history=False)
            await connection.execute(migration.sql)
            assert await _schema(connection, history=False) == before, migration.name
    finally:
        await connection.close()


async def test_processed_events_reads_the_key_of_every_applied_event(
    clean_db: asyncpg.Pool,
) -> None:
    await clean_db.execute(
        "INSERT INTO order_events (order_id, event_type, new_status, tx_hash, block_number, "
        "block_hash, log_index, occurred_at, event_data) VALUES "
        "(7, 'CREATED', 'PENDING', $1, 12, $2, 3, now(), '{}')",
        "0x" + "a" * 64,
        "0x" + "b" * 64,
    )
    rows = await clean_db.fetch("SELECT * FROM processed_events")
    assert [dict(row) for row in rows] == [
        {
            "block_hash": "0x" + "b" * 64,
            "log_index": 3,
            "block_number": 12,
            "tx_hash": "0x" + "a" * 64,
        }
    ]


async def test_services_starting_together_apply_each_migration_once(empty_database: str) -> None:
    connections = [await asyncpg.connect(empty_database) for _ in range(4)]
    try:
        results = await asyncio.gather(*(apply_migrations(c) for c in connections))
        applied = sorted(m.version for result in results for m in result)
        assert applied == [m.version for m in discover()]
    finally:
        for connection in connections:
            await connection.close()


async def test_an_edited_applied_migration_is_refused(empty_database: str) -> None:
    connection = await asyncpg.connect(empty_database)
    try:
        await apply_migrations(connection)
        await connection.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(connection)
    finally:
        await connection.close()


async def test_money_columns_keep_every_digit(clean_db: asyncpg.Pool) -> None:
    price = Decimal("0.000000000003663159")
    await clean_db.execute(
        """INSERT INTO candles (symbol, open_time, open_price, high_price, low_price, close_price,
               volume, quote_volume, trades, taker_buy_volume, taker_buy_quote_volume)
           VALUES ('BTCUSDT', '2024-01-01T00:00Z', $1, $1, $1, $1, 0, 0, 0, 0, 0)""",
        price,
    )
    assert await clean_db.fetchval("SELECT open_price FROM candles") == price


@pytest.mark.parametrize(
    ("column", "value"),
    [("volume", "-1"), ("trades", "-1"), ("open_price", "-0.5")],
)
async def test_candles_refuse_negative_amounts(
    clean_db: asyncpg.Pool, column: str, value: str
) -> None:
    values = {"open_price": "1", "volume": "0", "trades": "0"} | {column: value}
    open_price, volume, trades = (
        Decimal(values["open_price"]),
        Decimal(values["volume"]),
        int(values["trades"]),
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await clean_db.execute(
            """INSERT INTO candles (symbol, open_time, open_price, high_price, low_price,
                   close_price, volume, quote_volume, trades, taker_buy_volume,
                   taker_buy_quote_volume)
               VALUES ('BTCUSDT', '2024-01-01T00:00Z', $1::numeric, 1, 1, 1, $2::numeric, 0,
                       $3::bigint, 0, 0)""",
            open_price,
            volume,
            trades,
        )


@pytest.mark.parametrize(
    ("column", "value"),
    [("order_type", "'MARKETISH'"), ("status", "'DONE'"), ("amount_in", "-1")],
)
async def test_orders_refuse_unknown_types_statuses_and_negative_amounts(
    clean_db: asyncpg.Pool, column: str, value: str
) -> None:
    row = {
        "id": "1",
        "user_address": f"'0x{'a' * 40}'",
        "token_in": f"'0x{'0' * 40}'",
        "token_out": f"'0x{'b' * 40}'",
        "amount_in": "1",
        "target_price": "1",
        "min_amount_out": "0",
        "order_type": "'LIMIT'",
        "is_long": "true",
        "self_executable": "false",
        "status": "'PENDING'",
        "created_at": "now()",
        "updated_at": "now()",
        "tx_hash": f"'0x{'c' * 64}'",
        "block_number": "1",
    } | {column: value}
    # Literals only, built from the fixed table above: this checks constraints, not input.
    sql = f"INSERT INTO orders ({', '.join(row)}) VALUES ({', '.join(row.values())})"
    with pytest.raises(asyncpg.CheckViolationError):
        await clean_db.execute(sql)


# Two of the order tables' address and hash columns, as migrated: (table, column, hex digits,
# an insert of one row with that column as $1).
_HEX_COLUMNS = [
    (
        "block_hashes",
        "block_hash",
        64,
        "INSERT INTO block_hashes (block_number, block_hash, parent_hash) "
        "VALUES (1, $1, '0x' || repeat('0', 64))",
    ),
    (
        "token_decimals",
        "token_address",
        40,
        "INSERT INTO token_decimals (token_address, decimals) VALUES ($1, 18)",
    ),
]


def _hex_like(digits: int) -> st.SearchStrategy[str]:
    """Strings near `0x` + `digits` lowercase hex digits: right, one short or long, upper
    case, a stray character, no prefix, a trailing newline."""
    hex_digits = st.text(alphabet="0123456789abcdef", min_size=digits - 2, max_size=digits + 2)
    return st.one_of(
        hex_digits.map(lambda h: "0x" + h),
        st.text(alphabet="0123456789abcdefABCDEFxg \n", min_size=digits, max_size=digits + 3),
        st.tuples(hex_digits, st.sampled_from(["A", "g", "\n", " ", "é", "0X"])).map(
            lambda parts: "0x" + parts[0][1:] + parts[1]
        ),
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(block_hash=_hex_like(64), token=_hex_like(40))
async def test_hex_columns_accept_exactly_0x_and_lowercase_hex_of_their_length(
    clean_db: asyncpg.Pool, block_hash: str, token: str
) -> None:
    async with clean_db.acquire() as connection:
        for (table, column, digits, insert), value in zip(
            _HEX_COLUMNS, (block_hash, token), strict=True
        ):
            expected = re.fullmatch(f"0x[0-9a-f]{{{digits}}}", value) is not None
            transaction = connection.transaction()
            await transaction.start()
            try:
                await connection.execute(insert, value)
                accepted = True
            except asyncpg.CheckViolationError as error:
                assert error.constraint_name == f"{table}_{column}_check"
                accepted = False
            finally:
                await transaction.rollback()
            assert accepted is expected, (table, value)


async def test_order_table_checks_use_no_counted_regex_repetition(clean_db: asyncpg.Pool) -> None:
    """PostgreSQL runs '[0-9a-f]{64}' about 10x slower than a length test plus '+': such a
    check on an order table costs the event processor most of its write time."""
    rows = await clean_db.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
        "WHERE contype = 'c' AND conrelid = ANY($1::regclass[])",
        ["orders", "order_events", "block_hashes", "token_decimals"],
    )
    hex_checks = {row["conname"]: row["def"] for row in rows if "0x" in row["def"]}
    assert len(hex_checks) == 11
    assert {
        name for name, definition in hex_checks.items() if re.search(r"\{\d", definition)
    } == set()
