"""The dashboard: static files served from the package, same origin as the API."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(str(files("loki_mode").joinpath("dashboard", "static")))


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html")


routes = [
    Route("/", index, methods=["GET"]),
    Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
]
