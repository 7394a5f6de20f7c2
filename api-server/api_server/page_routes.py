"""The live chart page: `/` (the page), `/static` (its assets) and `/page-config.json`, which
tells the browser where the order API is."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from api_server.settings import ApiSettings
from linkora_core.http import JSON

STATIC = Path(__file__).resolve().parent / "static"


async def page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def page_config(request: Request) -> Response:
    settings: ApiSettings = request.app.state.settings
    return JSON(
        {"order_api_url": settings.order_api_url.rstrip("/")},
        headers={"Cache-Control": "no-store"},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/", page),
        Route("/page-config.json", page_config),
        # check_dir=False: vendor/ is filled by devstack/setup.sh (or the image build).
        Mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static"),
    ]
