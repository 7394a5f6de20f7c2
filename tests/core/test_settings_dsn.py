"""The database DSN built from settings survives any password a deployment picks."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import asyncpg
import pytest
from pydantic import SecretStr

from linkora_core import db
from linkora_core.settings import CommonSettings, Environment


@pytest.mark.parametrize("password", ["p/ss@w#rd?x%41", "a b:c", "plain"])
def test_every_character_of_the_password_reaches_the_driver(password: str) -> None:
    settings = CommonSettings(  # type: ignore[call-arg]
        _env_file=None, db_host="db.internal", db_port=6543, db_password=SecretStr(password)
    )
    parts = urlsplit(settings.db_dsn)
    assert parts.hostname == "db.internal"
    assert parts.port == 6543
    assert parts.password is not None
    assert unquote(parts.password) == password
    assert parts.path == f"/{settings.db_name}"


def test_the_earlier_systems_example_password_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="DB_PASSWORD is an example value"):
        CommonSettings(  # type: ignore[call-arg]
            _env_file=None,
            environment=Environment.PRODUCTION,
            db_password=SecretStr("crypto_password"),
        )


async def test_a_service_connects_with_a_password_full_of_url_delimiters(pg_server: str) -> None:
    password = "p/ss@w#rd?x%41 &="
    server = urlsplit(pg_server)
    admin = await asyncpg.connect(pg_server)
    try:
        await admin.execute("DROP ROLE IF EXISTS linkora_odd_password")
        await admin.execute(
            f"CREATE ROLE linkora_odd_password LOGIN PASSWORD '{password}'"  # test constant
        )
        settings = CommonSettings(  # type: ignore[call-arg]
            _env_file=None,
            db_host=server.hostname or "127.0.0.1",
            db_port=server.port or 5432,
            db_name="postgres",
            db_user="linkora_odd_password",
            db_password=SecretStr(password),
        )
        pool = await db.connect_pool(settings.db_dsn, migrate=False, retry_for=0)
        try:
            assert await pool.fetchval("SELECT current_user") == "linkora_odd_password"
        finally:
            await pool.close()
    finally:
        await admin.execute("DROP ROLE IF EXISTS linkora_odd_password")
        await admin.close()
