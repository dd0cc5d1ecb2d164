"""/metrics parsed by prometheus-client agrees with the API; /docs works offline."""

from __future__ import annotations

import re

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LiveServer, wait_for
from tests.engine.helpers import scenario, start, wait_status

pytestmark = pytest.mark.e2e


def _samples(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_match_the_api(server: LiveServer) -> None:
    scenario(server.project, "success")
    with server.client() as client:
        done = start(client, options={"maxIterations": 1})
        wait_status(client, done)
        dry = start(client, provider="codex", options={"dryRun": True})
        wait_status(client, dry)
        client.get("/api/sessions/nope")
        metrics = _samples(client)

        sessions = client.get("/api/status").json()["sessions"]
        for status in ("completed", "failed", "running", "stopped"):
            assert metrics[("loki_sessions", (("status", status),))] == sessions[status]
        summary = client.get("/api/tasks").json()["summary"]
        for status in ("completed", "pending", "running", "skipped"):
            assert metrics[("loki_tasks", (("status", status),))] == summary[status]
        body = client.get(f"/api/sessions/{done}").json()["session"]
        claude_in = metrics[("loki_tokens", (("direction", "input"), ("provider", "claude")))]
        assert claude_in == body["inputTokens"] > 0
        assert metrics[("loki_cost_usd", (("provider", "claude"),))] == pytest.approx(
            body["costUsd"]
        )
        assert metrics[("loki_iterations", ())] == 2  # one run, one dry run
        stats = client.get("/api/events/stats").json()
        for type_, n in stats["byType"].items():
            assert metrics[("loki_events", (("type", type_),))] == n
        assert metrics[("loki_sse_subscribers", ())] == stats["subscribers"]
        assert metrics[("loki_agents_active", ())] == 0

        missing = (("method", "GET"), ("route", "/api/sessions/{session_id}"), ("status", "404"))
        assert metrics[("loki_http_requests_total", missing)] == 1
        latency = [k for k in metrics if k[0] == "loki_http_request_duration_seconds_count"]
        assert latency and all(metrics[k] >= 1 for k in latency)


def test_metrics_count_open_event_streams(server: LiveServer) -> None:
    with (
        server.client() as client,
        httpx.stream("GET", f"{server.url}/api/events", timeout=10) as stream,
    ):
        lines = stream.iter_lines()  # kept: dropping the iterator closes the response
        next(lines)
        value = wait_for(lambda: _samples(client)[("loki_sse_subscribers", ())] or None, timeout=40)
        assert value == 1


def test_docs_render_the_served_spec_with_local_assets(server: LiveServer) -> None:
    with server.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/docs/static/") for a in assets)
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
        init = client.get("/docs/static/docs-init.js").text
        assert '"/openapi.yaml"' in init
        assert client.get("/openapi.yaml").text.startswith("openapi: 3.1")
