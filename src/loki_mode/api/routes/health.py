"""Health: /health, the probes, and /api/status."""

from __future__ import annotations

import os
import platform
import sys

import psutil
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loki_mode.api.context import runtime as _rt
from loki_mode.api.responses import JSON
from loki_mode.models import HealthResponse, ProviderAvailability
from loki_mode.types import SESSION_STATUSES

LIVE = b'{"status":"alive"}'


def _format_uptime(ms: int) -> str:
    seconds = ms // 1000
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    return " ".join([*parts, f"{minutes}m", f"{seconds}s"])


async def health(request: Request) -> Response:
    rt = _rt(request)
    providers = rt.providers()
    store_ok = await rt.store.healthy()
    status = "unhealthy" if not store_ok else "healthy" if any(providers.values()) else "degraded"
    active = await rt.store.sessions_with_status(("starting", "running", "paused", "stopping"))
    body = HealthResponse(
        status=status,
        version=rt.version,
        uptime=rt.uptime_ms,
        providers=ProviderAvailability(**providers),
        active_session=active[-1].id if active else None,
    )
    return JSON(body, status_code=200 if status == "healthy" else 503)


async def ready(request: Request) -> Response:
    rt = _rt(request)
    ok = await rt.store.healthy() and rt.engine.ready
    return JSON(
        {"status": "ready" if ok else "not ready", "store": ok, "engine": rt.engine.ready},
        status_code=200 if ok else 503,
    )


async def live(request: Request) -> Response:
    return Response(LIVE, media_type="application/json")


async def status(request: Request) -> Response:
    rt = _rt(request)
    counts = await rt.store.session_counts()
    by_status = {s: counts.get(s, 0) for s in SESSION_STATUSES}
    event_counts = await rt.store.event_counts()
    proc = psutil.Process()
    uptime = rt.uptime_ms
    return JSON(
        {
            "version": rt.version,
            "uptime": uptime,
            "uptimeFormatted": _format_uptime(uptime),
            "providers": rt.providers(),
            "sessions": {"total": sum(by_status.values()), **by_status},
            "events": {
                "subscribers": rt.bus.subscribers,
                "historySize": sum(event_counts.values()),
                "lastEventId": str(await rt.store.last_seq()),
            },
            "readCache": {
                "hits": request.app.state.read_cache.hits,
                "misses": request.app.state.read_cache.misses,
            },
            "system": {
                "platform": platform.platform(),
                "python": sys.version.split()[0],
                "pid": os.getpid(),
                "rss": proc.memory_info().rss,
                "cpuCount": os.cpu_count(),
                "loadAverage": list(os.getloadavg()),
                "store": {"path": str(rt.store.path), "sizeBytes": rt.store.size_bytes()},
            },
        }
    )


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/health/ready", ready, methods=["GET"]),
    Route("/health/live", live, methods=["GET"]),
    Route("/api/status", status, methods=["GET"]),
]
