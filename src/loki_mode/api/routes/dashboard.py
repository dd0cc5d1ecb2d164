"""The dashboard: static files served from the package, same origin as the API.

No build step and nothing fetched from elsewhere: the page is vanilla ES modules,
so a strict Content-Security-Policy holds (scripts, styles and connections only
from this origin, no inline code). That also keeps text an agent prints from
ever running as script, should it slip past the page's own escaping.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(str(files("loki_mode").joinpath("dashboard", "static")))

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
ASSET_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


class DashboardFiles(StaticFiles):
    """Static files revalidated on every load (ETag), so an upgrade shows at once."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(ASSET_HEADERS)
        return response


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)


routes = [
    Route("/", index, methods=["GET"]),
    Mount("/static", app=DashboardFiles(directory=STATIC), name="static"),
]
