"""The pages: ``GET /`` (the draw-pad; its assets under ``/static``) and ``GET /docs`` (Swagger UI,
served from the files of the ``fastapi-swagger`` package under ``/swagger``: no CDN, so it works offline).
Both answer ``HEAD`` too (uptime checks use it)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from ..headers import docs_csp

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
SWAGGER_DIR = Path(str(files("fastapi_swagger") / "resources"))
SWAGGER_URL = "/swagger"

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@cache
def _docs_page(title: str, openapi_url: str) -> tuple[bytes, str]:
    """The Swagger UI page and its Content-Security-Policy (built once per app title and URL)."""
    html = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{title} - Swagger UI",
        swagger_js_url=f"{SWAGGER_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER_URL}/swagger-ui.css",
        swagger_favicon_url=f"{SWAGGER_URL}/favicon-32x32.png",
    ).body
    return bytes(html), docs_csp(bytes(html).decode())


@router.api_route("/docs", methods=["GET", "HEAD"])
async def docs(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "").rstrip("/")
    html, csp = _docs_page(request.app.title, root + request.app.openapi_url)
    return HTMLResponse(html, headers={"Content-Security-Policy": csp})
