"""A private PostgreSQL cluster: its own data directory and port, run as a child process.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system
user (created by Debian's package) through `setpriv`, which execs without a wrapper process
so signals reach the server directly.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from devstack.ports import free_port, wait_listening


class PostgresNotFound(RuntimeError):
    pass


def db_env(dsn: str, *, password: str = "unused-with-trust-auth") -> dict[str, str]:
    """The DB_* variables that point a service at `dsn`. A DSN without a password gets
    `password`: these clusters trust local connections, but a service requires one."""
    url = urlsplit(dsn)
    return {
        "DB_HOST": url.hostname or "127.0.0.1",
        "DB_PORT": str(url.port or 5432),
        "DB_NAME": url.path.lstrip("/"),
        "DB_USER": url.username or "postgres",
        "DB_PASSWORD": url.password or password,
    }


def bindir() -> Path:
    """The directory holding initdb/postgres of the newest installed server."""
    pg_config = shutil.which("pg_config")
    candidates = []
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if (
            candidate
            and (Path(candidate) / "initdb").exists()
            and (Path(candidate) / "postgres").exists()
        ):
            return Path(candidate)
    raise PostgresNotFound("PostgreSQL server binaries not found (apt-get install postgresql)")


def _as_postgres_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


# Where a cluster goes when the server's user cannot reach the one asked for.
REACHABLE_ROOT = Path("/var/tmp")


def reachable_data_dir(wanted: Path) -> Path:
    """`wanted`, or, when the server's user cannot traverse its parent (root's checkout under
    a mode-700 home), a directory under /var/tmp named after that parent and its inode: the
    same run directory finds its cluster again, and a removed and recreated one (`rm -rf
    .run`) starts from scratch, as it does in place."""
    wanted.parent.mkdir(parents=True, exist_ok=True)
    prefix = _as_postgres_user()
    if not prefix:
        return wanted
    probe = subprocess.run([*prefix, "test", "-x", str(wanted.parent)], check=False)
    if probe.returncode == 0:
        return wanted
    parent = wanted.parent.resolve()
    key = hashlib.sha256(f"{parent}:{parent.stat().st_ino}".encode()).hexdigest()[:16]
    home = REACHABLE_ROOT / f"linkora-{key}"
    home.mkdir(exist_ok=True)
    home.chmod(0o755)
    (parent / f"{wanted.name}.location").write_text(f"{home / wanted.name}\n")
    return home / wanted.name


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass(frozen=True)
class PostgresCluster:
    data_dir: Path
    port: int
    user: str = "postgres"

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def initialise(self) -> None:
        """initdb once (trust auth on loopback only); a second call keeps the data."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _chown_to_postgres(self.data_dir)
        command = [
            *_as_postgres_user(),
            str(bindir() / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip()[-2000:]}")

    def server_command(self, *, durable: bool) -> list[str]:
        """The foreground server command; `durable=False` trades crash safety for speed."""
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.data_dir),
            "max_connections": "300",
            "shared_buffers": "256MB",
        }
        if not durable:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        options = [item for key, value in settings.items() for item in ("-c", f"{key}={value}")]
        return [
            *_as_postgres_user(),
            str(bindir() / "postgres"),
            "-D",
            str(self.data_dir),
            *options,
        ]

    def wait_ready(self, timeout: float = 60.0) -> None:
        if not wait_listening(self.port, timeout):
            raise RuntimeError(f"PostgreSQL did not listen on {self.port} within {timeout:.0f}s")
        isready = str(bindir() / "pg_isready")
        for _ in range(int(timeout * 10)):
            probe = [isready, "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
            if subprocess.run(probe, check=False).returncode == 0:
                return
            subprocess.run(["sleep", "0.1"], check=False)
        raise RuntimeError("PostgreSQL did not become ready")

    def create_database(self, name: str) -> None:
        """CREATE DATABASE unless it exists."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name: {name!r}")
        psql = [
            str(bindir() / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            "postgres",
            "-tAc",
        ]
        exists = subprocess.run(
            [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
            capture_output=True,
            text=True,
            check=True,
        )
        if exists.stdout.strip() != "1":
            subprocess.run([*psql, f'CREATE DATABASE "{name}"'], capture_output=True, check=True)


class PostgresServer:
    """A throwaway cluster in a temporary directory that can be stopped and started again
    (tests use it for the shared test database and for database-restart fault tests;
    benchmarks that write measure with `durable=True`)."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="linkora-pg-"))
        self.root.chmod(0o755)  # the server runs as the postgres user
        self.cluster = PostgresCluster(self.root / "data", free_port())
        self.cluster.initialise()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return self.cluster.dsn("postgres")

    def start(self) -> None:
        with (self.root / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.cluster.server_command(durable=self.durable), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.cluster.wait_ready()

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are disconnected, as in a server restart."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
