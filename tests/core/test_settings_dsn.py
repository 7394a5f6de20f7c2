"""The database DSN and the Redis URL built from settings survive any password a deployment
picks; REDIS_TLS selects TLS."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import asyncpg
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.connection import SSLConnection

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


@pytest.mark.parametrize("tls", [False, True])
def test_a_managed_redis_gets_its_password_and_tls_through_the_client(tls: bool) -> None:
    password = "r/ed@is#pw?%41 x"
    settings = CommonSettings(  # type: ignore[call-arg]
        _env_file=None,
        redis_host="cache.internal",
        redis_password=SecretStr(password),
        redis_tls=tls,
    )
    pool = Redis.from_url(settings.redis_url).connection_pool
    assert pool.connection_kwargs["password"] == password
    assert pool.connection_kwargs["host"] == "cache.internal"
    assert (pool.connection_class is SSLConnection) is tls


def test_redis_without_a_password_has_none() -> None:
    settings = CommonSettings(_env_file=None)  # type: ignore[call-arg]
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
