"""The served contract (/openapi.yaml) and interactive docs (/docs), with no CDN."""

from __future__ import annotations

from importlib.resources import files

from openapi_ui_bundles import swagger_ui
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

SPEC = files("loki_mode").joinpath("openapi.yaml").read_bytes()

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Loki Mode API docs</title>
  <link rel="stylesheet" href="/docs/static/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/static/swagger-ui-bundle.js"></script>
  <script src="/docs/static/docs-init.js"></script>
</body>
</html>
"""

# Inline scripts would need a looser Content-Security-Policy; a tiny file keeps it strict.
DOCS_INIT = b"""window.ui = SwaggerUIBundle({url: "/openapi.yaml", dom_id: "#swagger-ui", deepLinking: true});
"""


async def openapi(request: Request) -> Response:
    return Response(SPEC, media_type="application/yaml")


async def docs(request: Request) -> Response:
    return HTMLResponse(DOCS_PAGE)


async def docs_init(request: Request) -> Response:
    return Response(DOCS_INIT, media_type="text/javascript")


routes = [
    Route("/openapi.yaml", openapi, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
    Route("/docs/static/docs-init.js", docs_init, methods=["GET"]),
    Mount("/docs/static", app=StaticFiles(directory=swagger_ui.static_path), name="docs-static"),
]
