"""Health: /health (200 healthy, 503 degraded), the probes, and /api/status."""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loki_mode import __version__
from loki_mode.api.routes.health import _format_uptime
from loki_mode.types import SESSION_STATUSES
from tests.api import dry_run, finished, running, scenario, start
from tests.conftest import LiveServer, fake_env

HEALTH_KEYS = {"status", "version", "uptime", "providers", "activeSession"}
UPTIME = re.compile(r"^(?:(\d+)d )?(?:(\d+)h )?(\d+)m (\d+)s$")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    project = tmp_path_factory.mktemp("health") / "project"
    project.mkdir()
    (project / "PRD.md").write_text("# PRD\n")
    server = LiveServer(project, fake_env()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client() as c:
        yield c


@pytest.mark.e2e
def test_health_is_200_when_a_provider_is_available(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == HEALTH_KEYS
    assert body["status"] == "healthy"
    assert body["version"] == __version__
    assert isinstance(body["uptime"], int) and body["uptime"] >= 0
    assert body["providers"] == {"claude": True, "codex": True, "gemini": True}


@pytest.mark.e2e
def test_health_is_503_degraded_with_its_body_when_no_provider_is_available(
    project: Path, tmp_path: Path
) -> None:
    missing = {
        f"LOKI_{p}_CMD": str(tmp_path / "nowhere" / p) for p in ("CLAUDE", "CODEX", "GEMINI")
    }
    server = LiveServer(project, fake_env(**missing)).start()
    try:
        with server.client() as client:
            response = client.get("/health")
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("application/json")
            body = response.json()
            assert set(body) == HEALTH_KEYS
            assert body["status"] == "degraded"
            assert body["providers"] == {"claude": False, "codex": False, "gemini": False}
            # Degraded is not down: the probes pass and dry runs still work.
            assert client.get("/health/ready").status_code == 200
            assert client.get("/health/live").status_code == 200
            assert client.get("/api/status").json()["providers"] == body["providers"]
            assert dry_run(client)["status"] == "completed"
    finally:
        server.stop()


@pytest.mark.e2e
def test_active_session_is_named_while_it_runs(live: LiveServer, client: httpx.Client) -> None:
    folder = live.project / "busy"
    folder.mkdir()
    scenario(folder, "hang")
    session_id = start(client, projectDir=str(folder))
    try:
        running(client, session_id)
        assert client.get("/health").json()["activeSession"] == session_id
    finally:
        client.post(f"/api/sessions/{session_id}/stop")
        finished(client, session_id)
    assert client.get("/health").json()["activeSession"] is None


@pytest.mark.e2e
def test_probes(client: httpx.Client) -> None:
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "store": True, "engine": True}
    live = client.get("/health/live")
    assert live.status_code == 200
    assert live.headers["content-type"].startswith("application/json")
    assert live.json() == {"status": "alive"}


@pytest.mark.e2e
def test_uptime_is_in_milliseconds(client: httpx.Client) -> None:
    first = client.get("/health").json()["uptime"]
    time.sleep(0.3)
    second = client.get("/health").json()["uptime"]
    assert 300 <= second - first < 30_000
    status = client.get("/api/status").json()
    assert status["uptime"] >= second


@pytest.mark.e2e
def test_status_reports_version_providers_sessions_events_and_system(
    live: LiveServer, client: httpx.Client
) -> None:
    dry_run(client)
    status = client.get("/api/status").json()
    assert set(status) == {
        "version",
        "uptime",
        "uptimeFormatted",
        "providers",
        "sessions",
        "events",
        "readCache",
        "system",
    }
    assert status["version"] == __version__
    match = UPTIME.match(status["uptimeFormatted"])
    assert match, status["uptimeFormatted"]
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    formatted = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    assert abs(formatted - status["uptime"] // 1000) <= 1
    assert status["providers"] == {"claude": True, "codex": True, "gemini": True}

    sessions = status["sessions"]
    assert set(sessions) == {"total", *SESSION_STATUSES}
    listed = client.get("/api/sessions").json()["sessions"]
    assert sessions["total"] == len(listed) == sum(sessions[s] for s in SESSION_STATUSES)
    for name in SESSION_STATUSES:
        assert sessions[name] == sum(s["status"] == name for s in listed)
    assert sessions["completed"] >= 1

    stats = client.get("/api/events/stats").json()
    assert status["events"] == {
        "subscribers": stats["subscribers"],
        "historySize": stats["historySize"],
        "lastEventId": stats["lastEventId"],
    }
    assert status["events"]["historySize"] > 0

    system = status["system"]
    assert set(system) == {"platform", "python", "pid", "rss", "cpuCount", "loadAverage", "store"}
    assert live.proc is not None and system["pid"] == live.proc.pid
    assert system["python"] == platform.python_version()  # the server runs this interpreter
    assert system["platform"] == platform.platform()
    assert isinstance(system["rss"], int) and system["rss"] > 1024 * 1024
    assert system["cpuCount"] == os.cpu_count()
    assert len(system["loadAverage"]) == 3 and all(x >= 0 for x in system["loadAverage"])
    store = live.project / ".loki" / "loki.db"
    assert system["store"]["path"] == str(store)
    assert store.is_file() and system["store"]["sizeBytes"] >= store.stat().st_size > 0


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0m 0s"),
        (999, "0m 0s"),
        (61_000, "1m 1s"),
        (3_600_000, "1h 0m 0s"),
        (3_661_000, "1h 1m 1s"),
        (86_400_000, "1d 0h 0m 0s"),
        (90_061_000, "1d 1h 1m 1s"),
    ],
)
def test_uptime_formatting(ms: int, text: str) -> None:
    assert _format_uptime(ms) == text
