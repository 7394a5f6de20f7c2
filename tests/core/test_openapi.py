"""The shared OpenAPI helpers: wire-format schemas and the page rendered from a document."""

from __future__ import annotations

import re

import pytest

from linkora_core.openapi import (
    PLAIN_DECIMAL,
    decimal,
    document,
    errors,
    json_response,
    ready_schema,
    render,
    status_paths,
)


@pytest.mark.parametrize("text", ["0", "2", "-1.5", "0.95", "0.000000000003663159", "41543.53"])
def test_plain_decimals_match(text: str) -> None:
    assert re.match(PLAIN_DECIMAL, text)


@pytest.mark.parametrize("text", ["5E-8", "0E-8", "2.50", "1.", ".5", "007", "-0.0", "1e3", ""])
def test_scientific_padded_or_malformed_decimals_do_not_match(text: str) -> None:
    assert not re.match(PLAIN_DECIMAL, text)


def test_a_nullable_decimal_admits_null_and_keeps_the_pattern() -> None:
    assert decimal(nullable=True) == {"type": ["string", "null"], "pattern": PLAIN_DECIMAL}


def test_every_operation_answers_429_and_the_shared_routes_are_documented() -> None:
    ok = json_response("ok", {"type": "object"})
    spec = document("T", "d", {"/x": {"get": {"responses": {"200": ok, **errors(400)}}}}, {})
    assert set(spec["paths"]) == {"/x", "/metrics", "/openapi.json", "/docs"}
    for item in spec["paths"].values():
        assert set(item["get"]["responses"]) >= {"200", "429"}
    assert spec["paths"]["/x"]["get"]["responses"]["400"]["content"]["application/json"] == {
        "schema": {"$ref": "#/components/schemas/Error"}
    }


def test_the_page_escapes_text_and_sets_code_spans() -> None:
    ok = json_response("ok <b>", {"type": "object"})
    spec = document("<T>", "Use `a&b`.", {"/x": {"get": {"responses": {"200": ok}}}}, {})
    page = render(spec)
    assert "<title>&lt;T&gt;</title>" in page
    assert "Use <code>a&amp;b</code>." in page
    assert "ok &lt;b&gt;" in page
    assert "<script" not in page


def test_status_paths_answer_health_always_and_ready_200_or_503_with_one_body() -> None:
    paths = status_paths(health="Health", health_description="Always 200.", ready="Ready?")
    assert set(paths) == {"/health", "/ready"}
    assert set(paths["/health"]["get"]["responses"]) == {"200"}
    ready = paths["/ready"]["get"]
    assert ready["description"] == "Ready?"
    assert {code: r["content"]["application/json"] for code, r in ready["responses"].items()} == {
        "200": {"schema": {"$ref": "#/components/schemas/Ready"}},
        "503": {"schema": {"$ref": "#/components/schemas/Ready"}},
    }
    schema = ready_schema("Why not")
    assert schema["required"] == ["ready", "problems"]
    assert schema["properties"]["problems"]["description"] == "Why not"
