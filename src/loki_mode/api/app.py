"""The application factory: `create_app(settings)` returns the whole ASGI app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loki_mode.api.cache import FastPath, ReadCache
from loki_mode.api.metrics import Metrics, MetricsMiddleware
from loki_mode.api.metrics import routes as metrics_routes
from loki_mode.api.responses import JSON, error_body, problem
from loki_mode.api.routes import auth, dashboard, docs, events, health, sessions, tasks
from loki_mode.api.security import SecurityMiddleware
from loki_mode.errors import ApiProblem, StoreError
from loki_mode.runtime import Runtime
from loki_mode.settings import Settings

log = logging.getLogger("loki.api")
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


async def _api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem(exc)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    message = "Not found" if exc.status_code == 404 else exc.detail
    if exc.status_code == 404:
        message = f"No route for {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"Method {request.method} not allowed on {request.url.path}"
        # Starlette's Allow names only the first matching route's methods; a path served
        # by several routes (GET and POST /api/sessions) must list them all.
        methods = {
            m
            for r in request.app.routes
            if isinstance(r, Route) and r.methods and r.path_regex.match(request.scope["path"])
            for m in r.methods
        }
        if methods:
            return JSON(
                error_body(code, message), 405, headers={"Allow": ", ".join(sorted(methods))}
            )
    return JSON(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


async def _store_error(request: Request, exc: Exception) -> Response:
    log.error("store error on %s %s: %s", request.method, request.url.path, exc)
    return JSON(error_body("STORE_UNAVAILABLE", "The store is unavailable"), status_code=503)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSON(error_body("INTERNAL_ERROR", "Internal server error"), status_code=500)


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    rt = runtime or Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await rt.start()
        try:
            yield
        finally:
            await rt.stop()

    app = Starlette(
        routes=[
            *health.routes,
            *sessions.routes,
            *tasks.routes,
            *events.routes,
            *docs.routes,
            *auth.routes,
            *metrics_routes,
            *dashboard.routes,
        ],
        exception_handlers={
            ApiProblem: _api_problem,
            HTTPException: _http_exception,
            StoreError: _store_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.state.runtime = rt
    app.state.settings = settings
    app.state.metrics = metrics = Metrics()
    app.state.read_cache = cache = ReadCache(rt.store)
    by_path = {getattr(r, "path", None): r for r in app.routes}
    app.add_middleware(
        FastPath,
        cache=cache,
        live_route=by_path["/health/live"],
        events_route=by_path["/api/events"],
    )
    app.add_middleware(SecurityMiddleware, settings=settings)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
