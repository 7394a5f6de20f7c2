"""The local platform runs from any checkout location, even one the `postgres` user cannot
reach (a root user's mode-700 home): its database cluster then lives where that user can."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from devstack.postgres import REACHABLE_ROOT
from devstack.settings import StackSettings
from devstack.stack import Stack

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as postgres")


@pytest.fixture
def private_parent() -> Iterator[Path]:
    parent = Path(tempfile.mkdtemp(prefix="linkora-private-"))
    parent.chmod(0o700)
    try:
        yield parent
    finally:
        shutil.rmtree(parent, ignore_errors=True)


async def test_the_local_database_starts_from_a_checkout_under_a_mode_700_directory(
    private_parent: Path,
) -> None:
    run_dir = private_parent / "linkora" / ".run"
    stack = Stack(StackSettings(run_dir=run_dir, external=frozenset()))
    try:
        stack.start_postgres()
        env = stack.env
        connection = await asyncpg.connect(
            host=env["DB_HOST"], port=int(env["DB_PORT"]), user=env["DB_USER"],
            database=env["DB_NAME"],
        )  # fmt: skip
        try:
            assert await connection.fetchval("SELECT 1") == 1
        finally:
            await connection.close()
        # `make up` says where the cluster went; it is outside the unreachable checkout.
        location = Path((run_dir / "pgdata.location").read_text().strip())
        assert location.is_relative_to(REACHABLE_ROOT) and (location / "PG_VERSION").exists()
    finally:
        stack.supervisor.stop_all()
        marker = run_dir / "pgdata.location"
        if marker.exists():
            shutil.rmtree(Path(marker.read_text().strip()).parent, ignore_errors=True)
