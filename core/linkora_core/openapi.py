"""OpenAPI 3.1 pieces both APIs share: wire-format schemas, the `{"error": ...}` responses,
and the `/openapi.json` + `/docs` routes (the docs page is rendered here from the document:
no CDN, no JavaScript)."""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

Schema = dict[str, Any]

# Minimal plain decimals as `to_plain` writes them: "2", "0.95", "-1.5"; never "1E-8" or "2.50".
PLAIN_DECIMAL = r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$"

ERROR_DESCRIPTIONS = {
    400: "Bad request: a parameter is missing or invalid",
    404: "Not found",
    429: "Too many requests from this address; retry after `Retry-After` seconds",
    503: "A dependency (the database) is unavailable; retry after `Retry-After` seconds",
}


def decimal(description: str = "", *, nullable: bool = False) -> Schema:
    """A JSON string holding a minimal plain decimal."""
    schema: Schema = {"type": ["string", "null"] if nullable else "string"}
    schema["pattern"] = PLAIN_DECIMAL
    if description:
        schema["description"] = description
    return schema


def obj(
    properties: Mapping[str, Schema], *, optional: Iterable[str] = (), closed: bool = True
) -> Schema:
    """An object whose properties are all required except `optional`; a closed one allows
    no others."""
    skip = set(optional)
    return {
        "type": "object",
        "properties": dict(properties),
        "required": [name for name in properties if name not in skip],
        "additionalProperties": not closed,
    }


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


ERROR_SCHEMA: Schema = obj({"error": {"type": "string", "description": "What went wrong"}})


def json_response(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*codes: int) -> dict[str, Schema]:
    """`{"error": "..."}` responses for these status codes."""
    return {
        str(code): json_response(ERROR_DESCRIPTIONS[code], ref("Error")) for code in sorted(codes)
    }


def get(summary: str, responses: Schema, *parameters: Any, description: str = "") -> Schema:
    """A path item with one GET operation."""
    return {
        "get": {
            "summary": summary,
            "description": description,
            "parameters": list(parameters),
            "responses": responses,
        }
    }


def ready_schema(problems: str) -> Schema:
    """The `/ready` body; `problems` says what may keep this app from serving."""
    return obj(
        {
            "ready": {"type": "boolean"},
            "problems": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": problems,
            },
        }
    )


def status_paths(*, health: str, health_description: str, ready: str) -> dict[str, Schema]:
    """`/health` (always 200, the app's `Health` schema) and `/ready` (200 or 503 with the
    same `Ready` body): what every API serves (linkora_core.http.api)."""
    return {
        "/health": get(
            "Service health",
            {"200": json_response(health, ref("Health"))},
            description=health_description,
        ),
        "/ready": get(
            "Readiness",
            {
                "200": json_response("Ready", ref("Ready")),
                "503": json_response("Not ready", ref("Ready")),
            },
            description=ready,
        ),
    }


def query(name: str, schema: Schema, description: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


def path_parameter(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


def document(
    title: str, description: str, paths: Mapping[str, Schema], schemas: Mapping[str, Schema]
) -> Schema:
    """The whole document; every operation also answers 429 (the per-IP rate limit)."""
    all_paths = copy.deepcopy({**paths, **_EVERY_APP})
    for item in all_paths.values():
        for operation in item.values():
            operation["responses"] = {**operation["responses"], **errors(429)}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0", "description": description},
        "paths": all_paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA, **schemas}},
    }


# Routes every app of the platform serves: metrics and this document.
_EVERY_APP: dict[str, Schema] = {
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics",
            "description": "The text exposition format, for Prometheus to scrape.",
            "responses": {
                "200": {
                    "description": "Metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This OpenAPI 3.1 document",
            "responses": {"200": json_response("The document", {"type": "object"})},
        }
    },
    "/docs": {
        "get": {
            "summary": "This document as a readable HTML page",
            "responses": {
                "200": {
                    "description": "The page",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
        }
    },
}


def routes(spec: Schema) -> list[BaseRoute]:
    """`GET /openapi.json` (the document) and `GET /docs` (it, as a readable page)."""
    body = json.dumps(spec).encode()
    page = render(spec)

    async def openapi_json(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def docs(request: Request) -> Response:
        return HTMLResponse(page)

    return [Route("/openapi.json", openapi_json), Route("/docs", docs)]


def render(spec: Schema) -> str:
    """The document as one self-contained HTML page: operations, parameters, responses."""
    info = spec["info"]
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(info['title'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(info['title'])} <small>{e(info['version'])}</small></h1>",
        f"<p>{_prose(info.get('description', ''))}</p>",
        "<p>Machine-readable: <a href='openapi.json'>openapi.json</a> (OpenAPI 3.1).</p>",
        "<nav><ul>",
    ]
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]
    parts += [
        f"<li><a href='#{_anchor(p, m)}'><code>{m.upper()} {e(p)}</code></a> "
        f"{e(op.get('summary', ''))}</li>"
        for p, m, op in operations
    ]
    parts.append("</ul></nav>")
    for path, method, op in operations:
        parts.append(_operation(path, method, op))
    parts.append("<h2>Schemas</h2>")
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        parts.append(f"<h3 id='schema-{e(name)}'>{e(name)}</h3><pre>{_json(schema)}</pre>")
    parts.append("</body></html>")
    return "".join(parts)


def _operation(path: str, method: str, op: Schema) -> str:
    e = html.escape
    out = [
        f"<section id='{_anchor(path, method)}'><h2><code>{method.upper()} {e(path)}</code></h2>",
        f"<p><b>{e(op.get('summary', ''))}</b></p><p>{_prose(op.get('description', ''))}</p>",
    ]
    parameters = op.get("parameters", [])
    if parameters:
        out.append(
            "<table><tr><th>Parameter</th><th>In</th><th>Required</th><th>Schema</th>"
            "<th>Description</th></tr>"
        )
        out += [
            f"<tr><td><code>{e(p['name'])}</code></td><td>{e(p['in'])}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td>"
            f"<td><code>{_json(p['schema'], indent=None)}</code></td>"
            f"<td>{_prose(p.get('description', ''))}</td></tr>"
            for p in parameters
        ]
        out.append("</table>")
    out.append("<h3>Responses</h3><dl>")
    for code, response in op["responses"].items():
        out.append(f"<dt><b>{e(code)}</b> {_prose(response.get('description', ''))}</dt><dd>")
        for media, content in response.get("content", {}).items():
            out.append(f"<code>{e(media)}</code><pre>{_json(content.get('schema', {}))}</pre>")
        out.append("</dd>")
    out.append("</dl></section>")
    return "".join(out)


def _prose(text: str) -> str:
    """Escaped text with `code spans` set in <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _anchor(path: str, method: str) -> str:
    return f"{method}-" + "".join(c if c.isalnum() else "-" for c in path).strip("-")


def _json(value: Any, indent: int | None = 2) -> str:
    return html.escape(json.dumps(value, indent=indent))


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#1d2433}pre{background:#f4f6fa;padding:.6rem;overflow-x:auto;font-size:.85rem}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #d5dae3;padding:.3rem;"
    "text-align:left;vertical-align:top}section{border-top:2px solid #d5dae3;margin-top:2rem}"
    "small{color:#667}"
)


__all__ = [
    "PLAIN_DECIMAL",
    "decimal",
    "document",
    "errors",
    "get",
    "json_response",
    "obj",
    "path_parameter",
    "query",
    "ready_schema",
    "ref",
    "render",
    "routes",
    "status_paths",
]
