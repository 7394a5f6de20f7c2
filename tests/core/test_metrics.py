"""Request latency metrics: one histogram per app, labelled by route template and status."""

from __future__ import annotations

import httpx
from prometheus_client.metrics_core import GaugeMetricFamily
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from linkora_core.asgi_metrics import metrics_route
from linkora_core.http import middleware
from linkora_core.metrics import FunctionCollector, ServiceMetrics
from linkora_core.settings import HttpSettings


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.path_params["item_id"])


def make_app(metrics: ServiceMetrics) -> Starlette:
    settings = HttpSettings(rate_limit_per_second=1000.0, rate_limit_burst=1000)
    return Starlette(
        routes=[Route("/items/{item_id}", item), metrics_route(metrics)],
        middleware=middleware(settings, metrics=metrics),
    )


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_requests_are_counted_by_route_template_not_by_path() -> None:
    metrics = ServiceMetrics("test")
    transport = httpx.ASGITransport(app=make_app(metrics))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for item_id in ("a", "b", "c"):
            assert (await client.get(f"/items/{item_id}")).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
        assert (await client.post("/items/a")).status_code == 405
        text = await scrape(client)
    ok = 'method="GET",route="/items/{item_id}",service="test",status="200"'
    assert f"http_request_duration_seconds_count{{{ok}}} 3.0" in text
    assert 'route="<unmatched>",service="test",status="404"' in text
    assert 'method="POST",route="/items/{item_id}",service="test",status="405"' in text
    assert "/items/a" not in text


async def test_two_apps_in_one_process_keep_separate_registries() -> None:
    first, second = ServiceMetrics("one"), ServiceMetrics("two")
    make_app(first), make_app(second)
    first.observe("GET", "/x", 200, 0.01)
    assert first.registry.get_sample_value(
        "http_request_duration_seconds_count",
        {"service": "one", "method": "GET", "route": "/x", "status": "200"},
    ) == 1.0  # fmt: skip
    assert second.registry.get_sample_value(
        "http_request_duration_seconds_count",
        {"service": "one", "method": "GET", "route": "/x", "status": "200"},
    ) is None  # fmt: skip


def test_a_function_collector_reads_its_figures_at_scrape_time() -> None:
    figures = {"clients": 1}
    metrics = ServiceMetrics("test")
    metrics.registry.register(
        FunctionCollector(lambda: [GaugeMetricFamily("clients", "c", figures["clients"])])
    )
    figures["clients"] = 5
    assert metrics.registry.get_sample_value("clients") == 5
