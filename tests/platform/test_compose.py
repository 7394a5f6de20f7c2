"""The compose files, checked statically: no Docker engine is needed.

Both files must be valid against the official Compose Specification schema (shipped by the
`check-jsonschema` package, read from the installed package, never copied here) before and
after variable interpolation; start-up must wait on health, not on container creation; and the
production file must carry the hardening that the development file leaves out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from api_server.settings import ApiSettings
from data_collector.settings import CollectorSettings
from order_system.settings import EventSettings, OrderSettings
from outbox_relay.settings import RelaySettings

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "docker-compose.yml"
PROD = ROOT / "docker-compose.prod.yml"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
DOCKERFILE = ROOT / "Dockerfile"
# A release tag (major.minor.patch, optionally with a suffix) or a digest; never `latest`.
_PINNED = re.compile(r"(:\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$")

# Every variable the services' settings read, from the settings classes themselves. Compose
# may pass no other name to a service built from this repository, nor interpolate any other.
SETTINGS_ENV = frozenset(
    field.upper()
    for settings in (ApiSettings, CollectorSettings, OrderSettings, EventSettings, RelaySettings)
    for field in settings.model_fields
)
# The broker's own credentials: the rabbitmq container is created with them and the relay's
# AMQP_URL is made of them (no service reads these names itself).
BROKER_ENV = frozenset({"RABBITMQ_USER", "RABBITMQ_PASSWORD"})
PROD_SECRETS = (
    "DB_USER", "DB_PASSWORD", "WEB3_PROVIDER", "TRADING_ADDRESS", "ADMIN_TOKEN",
    "RABBITMQ_USER", "RABBITMQ_PASSWORD",
)  # fmt: skip
ONE_SHOT = frozenset({"deploy"})
PROD_ENV = {name: f"sample-{name.lower()}" for name in PROD_SECRETS}

Compose = dict[str, Any]

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_]\w*))"
)


class MissingVariableError(LookupError):
    """A `${NAME:?message}` variable was unset, as `docker compose` would refuse it."""


def _interpolate_text(text: str, env: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        value, op = env.get(name), match["op"] or ""
        missing = value is None or (value == "" and op.startswith(":"))
        if op.endswith("-"):
            return match["arg"] if missing else str(value)
        if op.endswith("?") and missing:
            raise MissingVariableError(f"{name}: {match['arg']}")
        return value or ""

    return _VARIABLE.sub(substitute, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """Compose's interpolation, applied to every string value of a loaded file."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, str):
        return _interpolate_text(node, env)
    return node


def variable_uses(node: Any) -> Iterator[re.Match[str]]:
    """Every `$NAME` / `${NAME...}` in the string values of a loaded file."""
    if isinstance(node, dict):
        for value in node.values():
            yield from variable_uses(value)
    elif isinstance(node, list):
        for item in node:
            yield from variable_uses(item)
    elif isinstance(node, str):
        yield from (m for m in _VARIABLE.finditer(node) if not m["escaped"])


def variable_names(node: Any) -> set[str]:
    return {match["braced"] or match["named"] for match in variable_uses(node)}


def load(path: Path) -> Compose:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def services(document: Compose) -> dict[str, Compose]:
    found = document["services"]
    assert isinstance(found, dict)
    return found


def built_here(document: Compose) -> dict[str, Compose]:
    return {name: svc for name, svc in services(document).items() if "build" in svc}


def long_running(document: Compose) -> dict[str, Compose]:
    return {name: svc for name, svc in services(document).items() if name not in ONE_SHOT}


def schema_errors(validator: Any, document: Compose) -> list[str]:
    errors = validator.iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


@pytest.fixture(scope="module")
def compose_validator() -> Any:
    try:
        vendored = resources.files("check_jsonschema.builtin_schemas.vendor")
    except ModuleNotFoundError:
        pytest.fail("the Compose schema comes from check-jsonschema: pip install -e '.[dev]'")
    schema = json.loads(vendored.joinpath("compose-spec.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


@pytest.fixture(scope="module", params=[DEV, PROD], ids=["dev", "prod"])
def compose(request: pytest.FixtureRequest) -> Compose:
    path: Path = request.param
    return load(path)


@pytest.fixture(scope="module")
def prod() -> Compose:
    return load(PROD)


@pytest.fixture(scope="module")
def dev() -> Compose:
    return load(DEV)


# ---------------------------------------------------------------- both files


def test_file_matches_the_compose_spec_as_written(compose_validator: Any, compose: Compose) -> None:
    assert schema_errors(compose_validator, compose) == []


def test_file_matches_the_compose_spec_once_interpolated(
    compose_validator: Any, compose: Compose
) -> None:
    assert schema_errors(compose_validator, interpolate(compose, PROD_ENV)) == []


def test_schema_check_rejects_a_broken_file(compose_validator: Any, dev: Compose) -> None:
    broken = interpolate(dev, {})
    broken["services"]["api-server"]["depends_on"]["redis"]["condition"] = "service_ready"
    broken["services"]["redis"]["healthcheck"]["command"] = ["redis-cli", "ping"]
    broken["volumes"]["redis-data"] = ["not", "a", "volume"]

    errors = schema_errors(compose_validator, broken)

    assert any(e.startswith("services/api-server/depends_on") for e in errors), errors
    assert any(e.startswith("services/redis/healthcheck") for e in errors), errors
    assert any(e.startswith("volumes/redis-data") for e in errors), errors


def test_every_dependency_waits_on_health_or_completion(compose: Compose) -> None:
    for name, svc in services(compose).items():
        depends_on = svc.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must name conditions"
        for target, spec in depends_on.items():
            expected = "service_completed_successfully" if target in ONE_SHOT else "service_healthy"
            assert spec.get("condition") == expected, f"{name} -> {target}"


def test_every_long_running_service_has_a_healthcheck(compose: Compose) -> None:
    for name, svc in long_running(compose).items():
        healthcheck = svc.get("healthcheck", {})
        assert healthcheck.get("test"), name
        assert not healthcheck.get("disable", False), name


def test_python_healthchecks_probe_the_port_the_service_is_given(compose: Compose) -> None:
    for name, svc in built_here(compose).items():
        probe = " ".join(svc.get("healthcheck", {}).get("test", []))
        port_names = re.findall(r"os\.environ\['(\w+)'\]", probe)
        assert all(port in svc["environment"] for port in port_names), name


def test_services_get_only_variables_the_settings_know(compose: Compose) -> None:
    for name, svc in built_here(compose).items():
        unknown = set(svc.get("environment", {})) - SETTINGS_ENV
        assert not unknown, f"{name} is given {sorted(unknown)}"
    assert variable_names(compose) <= SETTINGS_ENV | BROKER_ENV


def test_containers_find_each_other_by_service_name(compose: Compose) -> None:
    for name, svc in built_here(compose).items():
        env = svc.get("environment", {})
        if "DB_HOST" in env:
            assert (env["DB_HOST"], env["REDIS_HOST"]) == ("timescaledb", "redis"), name


def test_data_lives_in_named_volumes(compose: Compose) -> None:
    declared = set(compose.get("volumes") or {})
    for name in ("timescaledb", "redis", "rabbitmq"):
        sources = {v.split(":")[0] for v in services(compose)[name]["volumes"]}
        assert sources and sources <= declared, name


def test_the_earlier_systems_database_names_keep_working(compose: Compose) -> None:
    database = interpolate(services(compose)["timescaledb"], PROD_ENV | {"DB_USER": "crypto_user"})
    assert database["container_name"] == "crypto_timescaledb"
    assert database["environment"]["POSTGRES_DB"] == "crypto_data"
    app_env = interpolate(services(compose)["api-server"], PROD_ENV)["environment"]
    assert app_env["DB_NAME"] == "crypto_data"


def test_every_image_is_pinned_to_a_release(compose: Compose) -> None:
    for name, svc in services(compose).items():
        if "image" in svc:
            assert _PINNED.search(svc["image"]), f"{name}: {svc['image']} is not pinned"


def test_the_dockerfiles_base_images_are_pinned_to_a_release() -> None:
    defaults = re.findall(r"^ARG \w+_IMAGE=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert defaults
    assert all(_PINNED.search(image) for image in defaults), defaults


def test_the_broker_is_pinned_checked_and_waited_for_by_the_relay(compose: Compose) -> None:
    broker, relay = services(compose)["rabbitmq"], services(compose)["outbox-relay"]
    assert broker["image"].startswith("rabbitmq:") and _PINNED.search(broker["image"])
    assert broker["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    assert broker["hostname"] == "rabbitmq"  # its node name, hence its data, stays
    assert relay["build"]["target"] == "outbox-relay"
    assert relay["depends_on"] == {
        "timescaledb": {"condition": "service_healthy"},
        "rabbitmq": {"condition": "service_healthy"},
    }


def test_the_relay_logs_in_with_the_brokers_credentials(compose: Compose) -> None:
    env = PROD_ENV | {"RABBITMQ_USER": "events", "RABBITMQ_PASSWORD": "s3cret-broker"}
    broker = interpolate(services(compose)["rabbitmq"], env)["environment"]
    relay = interpolate(services(compose)["outbox-relay"], env)["environment"]
    user, password = broker["RABBITMQ_DEFAULT_USER"], broker["RABBITMQ_DEFAULT_PASS"]
    assert relay["AMQP_URL"] == f"amqp://{user}:{password}@rabbitmq:5672/"
    assert (user, password) == ("events", "s3cret-broker")


def test_load_balanced_apis_are_checked_for_readiness(compose: Compose) -> None:
    for name in ("api-server", "order-api"):
        probe = " ".join(services(compose)[name]["healthcheck"]["test"])
        assert "/ready'" in probe, name


# ---------------------------------------------------------------- development


def test_dev_publishes_the_api_on_8022(dev: Compose) -> None:
    api = interpolate(services(dev)["api-server"], {})
    assert f"8022:{api['environment']['API_PORT']}" in api["ports"]
    moved = interpolate(services(dev)["api-server"], {"API_PORT": "9000"})
    assert "8022:9000" in moved["ports"]


def test_dev_order_services_read_the_deployment_the_job_writes(dev: Compose) -> None:
    deploy = services(dev)["deploy"]
    out = re.search(r"--out (\S+)", " ".join(deploy["command"]))
    assert out is not None
    volume, mount = deploy["volumes"][0].split(":")[:2]
    assert out[1].startswith(mount + "/")
    for name in ("order-api", "order-events"):
        svc = services(dev)[name]
        assert svc["environment"]["DEPLOYMENT_FILE"] == out[1], name
        assert f"{volume}:{mount}:ro" in svc["volumes"], name
        assert svc["depends_on"]["deploy"]["condition"] == "service_completed_successfully"


# ---------------------------------------------------------------- production


def test_prod_keeps_database_redis_and_broker_off_the_host(prod: Compose) -> None:
    for name in ("timescaledb", "redis", "rabbitmq"):
        svc = services(prod)[name]
        assert "ports" not in svc, name
        assert svc["networks"] == ["data"], name
    assert prod["networks"]["data"]["internal"] is True


@pytest.mark.parametrize("secret", PROD_SECRETS)
def test_prod_refuses_to_start_without_a_secret(prod: Compose, secret: str) -> None:
    uses = [match for match in variable_uses(prod) if match["braced"] == secret]
    assert uses, f"{secret} is never used"
    assert all(m["op"] == ":?" for m in uses), f"{secret} has a default somewhere"
    without = {k: v for k, v in PROD_ENV.items() if k != secret}
    with pytest.raises(MissingVariableError, match=secret):
        interpolate(prod, without)


def test_prod_restarts_every_service(prod: Compose) -> None:
    for name, svc in services(prod).items():
        assert svc.get("restart") in {"unless-stopped", "always"}, name


def test_prod_rotates_every_log(prod: Compose) -> None:
    for name, svc in services(prod).items():
        logging = svc.get("logging", {})
        assert logging.get("driver") == "json-file", name
        assert {"max-size", "max-file"} <= set(logging.get("options", {})), name


def test_prod_limits_every_service(prod: Compose) -> None:
    for name, svc in services(prod).items():
        limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        assert {"cpus", "memory"} <= set(limits), name


def test_prod_runs_in_production_against_a_real_chain(prod: Compose) -> None:
    assert not {"hardhat", "deploy"} & set(services(prod))
    for name, svc in built_here(prod).items():
        assert svc["build"]["target"] not in {"hardhat", "deploy"}, name
        assert svc["environment"]["ENVIRONMENT"] == "production", name
        assert "DEPLOYMENT_FILE" not in svc["environment"], name


def test_prod_relay_settings_accept_the_stack_and_refuse_example_broker_secrets(
    prod: Compose, monkeypatch: pytest.MonkeyPatch
) -> None:
    def relay_settings(password: str) -> RelaySettings:
        env = PROD_ENV | {"RABBITMQ_PASSWORD": password, "DB_PASSWORD": "a-real-db-secret"}
        for name, value in interpolate(services(prod)["outbox-relay"], env)["environment"].items():
            monkeypatch.setenv(name, value)
        return RelaySettings(_env_file=None)  # type: ignore[call-arg]

    assert relay_settings("s3cret-broker").broker_url.endswith("@rabbitmq:5672/")
    with pytest.raises(ValueError, match="example credentials"):
        relay_settings("linkora_dev_password")


def test_prod_scales_the_api_behind_nginx(prod: Compose) -> None:
    api, nginx = services(prod)["api-server"], services(prod)["nginx"]
    assert api["deploy"]["replicas"] >= 2
    assert "ports" not in api and "container_name" not in api
    assert "8022:80" in nginx["ports"]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in nginx["volumes"]
    assert nginx["depends_on"]["api-server"]["condition"] == "service_healthy"


def test_prod_api_trusts_forwarded_addresses_from_nginx_alone(prod: Compose) -> None:
    api, nginx = services(prod)["api-server"], services(prod)["nginx"]
    nginx_address = nginx["networks"]["edge"]["ipv4_address"]
    assert api["environment"]["TRUSTED_PROXIES"] == nginx_address
    assert "edge" in api["networks"]


def test_prod_passes_the_deployments_env_file_to_every_service_built_here(prod: Compose) -> None:
    for name, svc in built_here(prod).items():
        files = [entry if isinstance(entry, str) else entry["path"] for entry in svc["env_file"]]
        assert files == [".env"], name


def test_prod_requires_no_variable_the_services_never_use(prod: Compose) -> None:
    required = {m["braced"] for m in variable_uses(prod) if m["op"] == ":?"}
    assert required == set(PROD_SECRETS)


def test_prod_bounds_the_page_cache_far_below_the_api_memory_limit(prod: Compose) -> None:
    api = interpolate(services(prod)["api-server"], PROD_ENV)
    limit = api["deploy"]["resources"]["limits"]["memory"]
    assert limit.endswith("M")
    assert int(api["environment"]["CANDLE_CACHE_BYTES"]) <= int(limit[:-1]) * 2**20 // 4


def test_prod_scales_the_order_api_behind_nginx(prod: Compose) -> None:
    orders, nginx = services(prod)["order-api"], services(prod)["nginx"]
    assert "ports" not in orders and "container_name" not in orders
    assert "8080:8080" in nginx["ports"]
    assert nginx["depends_on"]["order-api"]["condition"] == "service_healthy"
    assert "edge" in orders["networks"]
    assert orders["environment"]["TRUSTED_PROXIES"] == nginx["networks"]["edge"]["ipv4_address"]


# ---------------------------------------------------------------- nginx


def nginx_block(config: str, header: str) -> str:
    """The body of the first `header { ... }` block, braces balanced."""
    start = config.index(header + " {") + len(header) + 2
    depth, end = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(config[end], 0)
        end += 1
    return config[start : end - 1]


@pytest.fixture(scope="module")
def nginx_conf() -> str:
    lines = NGINX_CONF.read_text(encoding="utf-8").splitlines()
    return "\n".join(line.split("#", 1)[0] for line in lines)


def test_nginx_balances_over_every_api_replica(nginx_conf: str, prod: Compose) -> None:
    port = services(prod)["api-server"]["environment"]["API_PORT"]
    assert re.search(r"resolver 127\.0\.0\.11\b", nginx_conf)
    upstream = nginx_block(nginx_conf, "upstream api_server")
    assert re.search(rf"server api-server:{port} resolve;", upstream)
    assert "zone " in upstream


def test_nginx_upgrades_websockets_on_ws(nginx_conf: str) -> None:
    ws = nginx_block(nginx_conf, "location /ws")
    assert "proxy_pass http://api_server;" in ws
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $connection_upgrade;" in ws
    assert re.search(r"proxy_http_version 1\.1;", nginx_conf)
    timeout = re.search(r"proxy_read_timeout (\d+)s;", ws)
    assert timeout is not None and int(timeout[1]) >= 600
    assert "upgrade;" in nginx_block(nginx_conf, "map $http_upgrade $connection_upgrade")


@pytest.mark.parametrize("location", ["location /ws", "location /"])
def test_nginx_passes_the_client_address(nginx_conf: str, location: str) -> None:
    # A location that sets any header inherits none, so each proxying one must set these.
    block = nginx_block(nginx_conf, location)
    assert "proxy_set_header X-Forwarded-For " in block
    assert "proxy_set_header X-Real-IP $remote_addr;" in block


def test_nginx_compresses_json(nginx_conf: str) -> None:
    assert re.search(r"^\s*gzip on;", nginx_conf, re.MULTILINE)
    gzip_types = re.search(r"gzip_types ([^;]*);", nginx_conf)
    assert gzip_types is not None and "application/json" in gzip_types[1].split()


def test_nginx_balances_over_every_order_api_replica(nginx_conf: str, prod: Compose) -> None:
    port = services(prod)["order-api"]["environment"]["ORDER_API_PORT"]
    upstream = nginx_block(nginx_conf, "upstream order_api")
    assert re.search(rf"server order-api:{port} resolve;", upstream)
    assert re.search(r"listen 8080;[^}]*proxy_pass http://order_api;", nginx_conf)


def test_nginx_limits_header_size_and_slow_clients(nginx_conf: str) -> None:
    http = nginx_block(nginx_conf, "http")
    for directive in ("large_client_header_buffers", "client_header_timeout", "send_timeout"):
        assert re.search(rf"^\s*{directive} ", http, flags=re.MULTILINE), directive
