"""Debian's nginx in front of api-server replicas, for tests: a generated configuration (an
upstream of the replicas, the WebSocket upgrade headers, long read timeouts, the next replica
tried when one refuses), on a free port, with its pid, logs and temp paths under the test's
directory, run in the foreground as a child process."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from devstack.ports import free_port

NGINX = Path("/usr/sbin/nginx")

_CONFIG = """\
{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
    upstream api_servers {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://api_servers;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


def config(root: Path, port: int, upstreams: list[int]) -> str:
    """The configuration text: `root` holds every file nginx writes."""
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in upstreams
    )
    # As root, nginx's workers would run as nobody, who cannot enter the test's directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return _CONFIG.format(user=user, root=root, port=port, servers=servers)


class Nginx:
    """nginx proxying 127.0.0.1:`port` to the replicas' ports; `close()` stops it."""

    def __init__(self, root: Path, upstreams: list[int]) -> None:
        assert NGINX.exists(), "Debian's nginx is missing: `make setup` installs it"
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.port = free_port()
        conf = root / "nginx.conf"
        conf.write_text(config(root, self.port, upstreams))
        self.process = subprocess.Popen(
            [str(NGINX), "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf),
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.errors()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen: {self.errors()}")

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def errors(self) -> str:
        log = self.root / "error.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
