"""A private RabbitMQ: its own node name, ports, data and log folders under one work folder,
loopback only, run in the foreground as a child (the broker Debian's rabbitmq-server package
installs; `make setup` installs it when absent). A system broker, if one runs, is untouched."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from devstack.ports import free_port, wait_listening

# Debian's /usr/sbin/rabbitmq-server changes to the rabbitmq user; the script it wraps runs
# the broker as whoever starts it, with every path taken from the environment.
_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


class RabbitMQNotFound(RuntimeError):
    pass


def server_binary() -> str:
    if _SCRIPT.exists():
        return str(_SCRIPT)
    found = shutil.which("rabbitmq-server")
    if found is None:
        raise RabbitMQNotFound("rabbitmq-server not found (apt-get install rabbitmq-server)")
    return found


def server_env(port: int, work_dir: Path) -> dict[str, str]:
    """The environment that makes `server_binary()` a broker of its own on `port`: a node name
    and distribution port no other broker uses, an empty plugin list, the default guest user
    allowed (it is reachable from loopback only)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "enabled_plugins").write_text("[].\n")
    (work_dir / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\n"
        "loopback_users = none\n"
        # No disk alarm on a nearly full development disk: the default stops publishers at
        # 50 MB free, which looks like a hung relay.
        "disk_free_limit.absolute = 1MB\n"
    )
    return {
        "HOME": str(work_dir),  # the Erlang cookie
        "RABBITMQ_NODENAME": f"linkora-{port}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": str(work_dir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(work_dir / "log"),
        "RABBITMQ_CONFIG_FILE": str(work_dir / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(work_dir / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(work_dir / "rabbitmq.pid"),
    }


def amqp_url(port: int) -> str:
    return f"amqp://guest:guest@127.0.0.1:{port}/"


class RabbitMQServer:
    """A private broker as a child process, which a test can stop and start again on the same
    port and data (`stop`, `start`), e.g. to restart it under a publishing relay."""

    def __init__(self, work_dir: Path, port: int | None = None) -> None:
        self.work_dir = work_dir
        self.port = port or free_port()
        self.url = amqp_url(self.port)
        self._env = server_env(self.port, work_dir)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        log = (self.work_dir / "server.log").open("ab")
        self._process = subprocess.Popen(
            [server_binary()],
            env={**os.environ, **self._env},
            cwd=self.work_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if not wait_listening(self.port, timeout):
            self.stop()
            raise RuntimeError(f"private RabbitMQ did not start (see {self.work_dir}/log)")

    def stop(self, kill: bool = False) -> None:
        """Stops the broker (SIGTERM, a clean shutdown; `kill`: SIGKILL) and its children."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> RabbitMQServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
