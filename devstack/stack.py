"""The whole platform as local processes: PostgreSQL, Redis, RabbitMQ, a Hardhat node with
the contracts deployed, optionally the project's Binance-compatible server, and the five
services, all under one supervisor, which restarts whatever exits unexpectedly except the
in-memory Hardhat node (see devstack.supervisor)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devstack import hardhat, postgres, rabbitmq, redis
from devstack.ports import free_port, is_listening, wait_listening
from devstack.settings import REPO, StackSettings
from devstack.supervisor import Child, Supervisor, wait_until


@dataclass
class Endpoint:
    name: str
    url: str


class Stack:
    def __init__(self, config: StackSettings) -> None:
        self.config = config
        self.supervisor = Supervisor(config.run_dir / "logs")
        self.env: dict[str, str] = {
            "LOG_LEVEL": config.log_level,
            "ADMIN_TOKEN": config.admin_token or secrets.token_urlsafe(24),
        }
        self.endpoints: list[Endpoint] = []

    # -- infrastructure -------------------------------------------------------------------

    def start_postgres(self) -> None:
        if "db" in self.config.external:
            self.endpoints.append(Endpoint("postgresql", f"{self.config.db_host} (external)"))
            return
        data_dir = postgres.reachable_data_dir(self.config.run_dir / "pgdata")
        cluster = postgres.PostgresCluster(data_dir, free_port())
        cluster.initialise()
        self.supervisor.start("postgres", cluster.server_command(durable=True))
        cluster.wait_ready()
        cluster.create_database("linkora")
        self.env.update(postgres.db_env(cluster.dsn("linkora"), password="local-trust-auth"))
        self.endpoints.append(Endpoint("postgresql", cluster.dsn("linkora")))

    def start_redis(self) -> None:
        if "redis" in self.config.external:
            self.endpoints.append(Endpoint("redis", f"{self.config.redis_host} (external)"))
            return
        port = free_port()
        self.supervisor.start("redis", redis.server_command(port, self.config.run_dir / "redis"))
        if not wait_listening(port, 20):
            raise RuntimeError("Redis did not start")
        self.env.update(REDIS_HOST="127.0.0.1", REDIS_PORT=str(port))
        self.endpoints.append(Endpoint("redis", f"redis://127.0.0.1:{port}"))

    def start_rabbitmq(self) -> None:
        """The broker the outbox relay publishes to (AMQP_URL of an external one otherwise).
        Its data starts empty each run: the outbox in PostgreSQL keeps what is unpublished,
        and the node's name (its data folder) changes with its port anyway."""
        if "rabbitmq" in self.config.external:
            self.endpoints.append(Endpoint("rabbitmq", "AMQP_URL (external)"))
            return
        port, work_dir = free_port(), self.config.run_dir / "rabbitmq"
        shutil.rmtree(work_dir, ignore_errors=True)
        self.supervisor.start(
            "rabbitmq",
            [rabbitmq.server_binary()],
            env=rabbitmq.server_env(port, work_dir),
            cwd=work_dir,
        )
        if not wait_listening(port, 60):
            raise RuntimeError(f"RabbitMQ did not start (see {work_dir}/log)")
        self.env["AMQP_URL"] = rabbitmq.amqp_url(port)
        self.endpoints.append(Endpoint("rabbitmq", rabbitmq.amqp_url(port)))

    def start_chain(self) -> None:
        port = 8545 if not is_listening(8545) else free_port()
        url = f"http://127.0.0.1:{port}"
        # Not restarted: the node keeps its chain in memory, so a new node would be a new chain
        # from genesis without the contracts, under an order-events that indexed the old one.
        self.supervisor.start(
            "hardhat",
            hardhat.node_command(port),
            env=hardhat.node_env(),
            cwd=REPO,
            restart=False,
            no_restart_reason=(
                "the chain lived in its memory, a new node would start from genesis without "
                "the contracts; stop the stack and run it again for a new chain"
            ),
        )
        if not wait_until(lambda: _answers(url), 60):
            raise RuntimeError("Hardhat node did not answer within 60s")
        hardhat.stop_request_log(url)
        deployment = self.config.run_dir / "deployment.json"
        deployment.unlink(missing_ok=True)  # a new node is a new chain
        subprocess.run(
            [sys.executable, "-m", "order_system.deploy", "--rpc", url, "--out", str(deployment)],
            check=True,
            cwd=REPO,
        )
        self.env.update(WEB3_PROVIDER=url, DEPLOYMENT_FILE=str(deployment))
        self.endpoints.append(Endpoint("hardhat", url))
        addresses = json.loads(deployment.read_text())
        self.endpoints.append(Endpoint("trading contract", addresses["trading"]))

    def start_exchange(self) -> None:
        """The project's Binance-compatible server, for running with no internet."""
        port = free_port()
        self.supervisor.start(
            "exchange-sim",
            [
                sys.executable,
                "-m",
                "exchange_sim",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--symbols",
                self.config.symbols,
                "--start",
                _days_ago(3),
            ],
        )
        if not wait_listening(port, 30):
            raise RuntimeError("exchange_sim did not start")
        rest, stream = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        # One server speaks every exchange's protocol at its real paths (USD-M streams under
        # /fstream, another host in reality).
        self.env.update(
            BINANCE_BASE_URL=rest,
            BINANCE_STREAM_URL=stream,
            BINANCE_FUTURES_BASE_URL=rest,
            BINANCE_FUTURES_STREAM_URL=f"{stream}/fstream",
            BYBIT_BASE_URL=rest,
            BYBIT_STREAM_URL=stream,
            OKX_BASE_URL=rest,
            OKX_STREAM_URL=stream,
            WHITEBIT_BASE_URL=rest,
            WHITEBIT_STREAM_URL=f"{stream}/whitebit",
            MARKETS=self.config.markets or offline_markets(self.config.symbols),
            START_DATE=_days_ago(2),
        )
        self.endpoints.append(Endpoint("exchange-sim", f"http://127.0.0.1:{port}"))

    # -- services -------------------------------------------------------------------------

    def start_services(self) -> list[Child]:
        python = sys.executable
        self.start_rabbitmq()  # before the relay, which publishes to it
        self.env.update(
            SYMBOLS=self.config.symbols,
            API_HOST="127.0.0.1",
            METRICS_HOST="127.0.0.1",
            ORDER_API_URL=f"http://127.0.0.1:{self.config.order_api_port}",
        )
        self.collector_port, self.events_port = free_port(), free_port()
        self.relay_port = free_port()
        services = [
            (
                "collector",
                [python, "-m", "data_collector"],
                # One collector, under a name that outlives its process: restarted after a
                # crash, it renews its own leases at once instead of waiting for them to expire.
                {"METRICS_PORT": str(self.collector_port), "COLLECTOR_INSTANCE": "devstack"},
            ),
            ("api-server", [python, "-m", "api_server"], {"API_PORT": str(self.config.api_port)}),
            (
                "order-api",
                [python, "-m", "order_system.api"],
                {"ORDER_API_PORT": str(self.config.order_api_port)},
            ),
            # A local Hardhat chain only reorganises when a test tells it to: index at the head.
            (
                "order-events",
                [python, "-m", "order_system.events"],
                {"METRICS_PORT": str(self.events_port), "CONFIRMATIONS": "0"},
            ),
            (
                "outbox-relay",
                [python, "-m", "outbox_relay"],
                {"METRICS_PORT": str(self.relay_port)},
            ),
        ]
        for port in (self.config.api_port, self.config.order_api_port):
            if is_listening(port):
                raise RuntimeError(f"port {port} is already in use (set API_PORT/ORDER_API_PORT)")
        return [
            self.supervisor.start(name, argv, env={**self.env, **extra}, cwd=REPO)
            for name, argv, extra in services
        ]

    def wait_healthy(self, timeout: float) -> bool:
        urls = [
            f"http://127.0.0.1:{self.config.api_port}/health",
            f"http://127.0.0.1:{self.config.order_api_port}/health",
        ]
        healthy = wait_until(lambda: all(_status(u) == 200 for u in urls), timeout, 0.5)
        self.endpoints += [
            Endpoint("api-server", f"http://127.0.0.1:{self.config.api_port}"),
            Endpoint("websocket", f"ws://127.0.0.1:{self.config.api_port}/ws"),
            Endpoint("order-api", f"http://127.0.0.1:{self.config.order_api_port}"),
            Endpoint("collector health", f"http://127.0.0.1:{self.collector_port}/health"),
            Endpoint("events health", f"http://127.0.0.1:{self.events_port}/health"),
            Endpoint("relay health", f"http://127.0.0.1:{self.relay_port}/health"),
        ]
        return healthy

    def start_trader(self) -> Child:
        """The demo's scripted trader: oracle prices follow the live market, orders flow."""
        return self.supervisor.start(
            "trader",
            [
                sys.executable,
                str(REPO / "demo" / "trader.py"),
                "--rpc",
                self.env["WEB3_PROVIDER"],
                "--deployment",
                self.env["DEPLOYMENT_FILE"],
                "--api",
                f"http://127.0.0.1:{self.config.api_port}",
            ],
            env=self.env,
            cwd=REPO,
        )

    def write_admin_token(self) -> Path:
        """The admin token where the operator (and the page's operator section) finds it."""
        path = self.config.run_dir / "admin-token"
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(self.env["ADMIN_TOKEN"] + "\n")
        return path

    def describe(self) -> dict[str, object]:
        """What monitoring scripts and tests need to find a running stack."""
        return {
            "pid": os.getpid(),
            "endpoints": {endpoint.name: endpoint.url for endpoint in self.endpoints},
            "env": self.env,
        }


def _days_ago(days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() - days * 86400))


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def _answers(url: str) -> bool:
    try:
        hardhat.rpc_call(url, "eth_chainId", timeout=1)
    except (OSError, hardhat.HardhatNodeError):
        return False
    return True


def offline_markets(symbols: str) -> str:
    """The first USDT symbol on every other venue the simulator serves, each exchange spelling
    it its own way: `BTCUSDT` -> `binance:usdm:BTCUSDT,bybit:linear:BTCUSDT,okx:spot:BTC-USDT,
    okx:swap:BTC-USDT-SWAP,whitebit:spot:BTC_USDT`."""
    first = next((s.strip().upper() for s in symbols.split(",") if s.strip()), "")
    if not first.endswith("USDT") or len(first) <= 4:
        return ""
    base = first[: -len("USDT")]
    return ",".join(
        (
            f"binance:usdm:{first}",
            f"bybit:linear:{first}",
            f"okx:spot:{base}-USDT",
            f"okx:swap:{base}-USDT-SWAP",
            f"whitebit:spot:{base}_USDT",
        )
    )
