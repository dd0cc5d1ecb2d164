"""End-to-end tests of the HTTP API, and the helpers its test modules share."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import wait_for

ERROR_KEYS = {"error", "code", "details"}
FINISHED = frozenset({"stopped", "failed", "completed"})


def assert_api_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is exactly the spec's ApiError envelope, with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/json"
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert isinstance(body["error"], str) and body["error"], body
    assert body["code"] == code, body
    assert isinstance(body["details"], dict), body
    return body


def snapshot(client: httpx.Client) -> dict[str, Any]:
    """What the store holds, as the API shows it: sessions, task counts, event log stats."""
    sessions = client.get("/api/sessions").json()
    per_session = {
        s["id"]: client.get(f"/api/sessions/{s['id']}/tasks", params={"limit": 1}).json()["summary"]
        for s in sessions["sessions"]
    }
    stats = client.get("/api/events/stats").json()
    return {
        "sessions": sessions,
        "tasks": client.get("/api/tasks", params={"limit": 1}).json()["summary"],
        "per_session": per_session,
        "events": {k: stats[k] for k in ("historySize", "lastEventId", "byType")},
        "history": client.get("/api/events/history", params={"limit": 1000}).json(),
    }


def settled_snapshot(client: httpx.Client, quiet: float = 0.3) -> dict[str, Any]:
    """A snapshot that stayed the same for `quiet` seconds (running sessions have settled)."""
    previous = snapshot(client)
    deadline = time.monotonic() + 15
    while True:
        time.sleep(quiet)
        current = snapshot(client)
        if current == previous:
            return current
        if time.monotonic() > deadline:
            raise AssertionError("the store kept changing")
        previous = current


def start(client: httpx.Client, **body: Any) -> str:
    """Start a session; return its id."""
    response = client.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["sessionId"])


def dry_run(client: httpx.Client, **body: Any) -> dict[str, Any]:
    """Start a dry run and wait until it has finished; return the finished session."""
    options = {"dryRun": True, **body.pop("options", {})}
    return finished(client, start(client, options=options, **body))


def session(client: httpx.Client, session_id: str) -> dict[str, Any]:
    response = client.get(f"/api/sessions/{session_id}")
    assert response.status_code == 200, response.text
    return dict(response.json()["session"])


def finished(client: httpx.Client, session_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """Wait until the session has finished; return it."""
    return dict(
        wait_for(
            lambda: (s := session(client, session_id))["status"] in FINISHED and s,
            timeout=timeout,
        )
    )


def running(client: httpx.Client, session_id: str) -> dict[str, Any]:
    """Wait until the session's provider process runs; return the session."""
    return dict(
        wait_for(
            lambda: (s := session(client, session_id))["status"] == "running" and s["pid"] and s
        )
    )


def scenario(project: Path, name: str) -> None:
    """Choose what the fake provider CLIs do in this project (see tests/fakes/_common.py)."""
    (project / ".fake-scenario").write_text(name)
