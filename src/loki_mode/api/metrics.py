"""Prometheus metrics: request counts and latencies by route, and the store's totals at scrape time.

Each app has its own registry (no process-global state), so two apps in one
process, as in tests, never share counters.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loki_mode.runtime import Runtime
from loki_mode.types import PROVIDERS, SESSION_STATUSES, TASK_STATUSES

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "loki_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "loki_http_request_duration_seconds",
            "Time to the response's first byte",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.sessions = Gauge("loki_sessions", "Sessions by status", ["status"], registry=r)
        self.iterations = Gauge("loki_iterations", "Iterations run, all sessions", registry=r)
        self.tasks = Gauge("loki_tasks", "Tasks by status", ["status"], registry=r)
        self.agents_active = Gauge("loki_agents_active", "Agents running now", registry=r)
        self.tokens = Gauge(
            "loki_tokens",
            "Tokens used, by provider and direction",
            ["provider", "direction"],
            registry=r,
        )
        self.cost = Gauge(
            "loki_cost_usd", "Cost reported by the provider CLIs", ["provider"], registry=r
        )
        self.events = Gauge("loki_events", "Events in the log, by type", ["type"], registry=r)
        self.published = Gauge(
            "loki_events_published", "Events published to subscribers since start", registry=r
        )
        self.subscribers = Gauge("loki_sse_subscribers", "Open event streams", registry=r)
        self.uptime = Gauge("loki_uptime_seconds", "Seconds since the server started", registry=r)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    async def refresh(self, rt: Runtime) -> None:
        counts = await rt.store.session_counts()
        for status in SESSION_STATUSES:
            self.sessions.labels(status).set(counts.get(status, 0))
        tasks = await rt.store.task_counts(None)
        for status in TASK_STATUSES:
            self.tasks.labels(status).set(tasks.get(status, 0))
        self.agents_active.set((await rt.store.agent_counts(None)).get("active", 0))
        totals = {t["provider"]: t for t in await rt.store.provider_totals()}
        iterations = 0
        for provider in PROVIDERS:
            t = totals.get(provider, {})
            iterations += t.get("iterations", 0)
            self.tokens.labels(provider, "input").set(t.get("inputTokens", 0))
            self.tokens.labels(provider, "output").set(t.get("outputTokens", 0))
            self.cost.labels(provider).set(t.get("costUsd", 0.0))
        self.iterations.set(iterations)
        for type_, n in (await rt.store.event_counts()).items():
            self.events.labels(type_).set(n)
        self.published.set(rt.bus.published)
        self.subscribers.set(rt.bus.subscribers)
        self.uptime.set(rt.uptime_ms / 1000)


class MetricsMiddleware:
    """Counts every request, including those the security layer refuses."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = scope.get("route")
                self.metrics.observe(
                    scope["method"],
                    getattr(route, "path", "unmatched"),
                    status,
                    time.perf_counter() - began,
                )
            await send(message)

        await self.app(scope, receive, send_wrapper)


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    await metrics.refresh(request.app.state.runtime)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics_endpoint, methods=["GET"])]
