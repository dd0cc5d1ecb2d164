"""Sessions over HTTP: start, dry run, PRD discovery, listing, steering and deletion."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import assert_api_error, dry_run, finished, running, scenario, session, start
from tests.conftest import LiveServer, fake_env, wait_for

pytestmark = pytest.mark.e2e

PRD = """# Todo service

- [ ] Store todos in SQLite
- [x] Choose the web framework
- [ ] Serve the REST API
"""


@dataclass
class World:
    server: LiveServer
    client: httpx.Client
    project: Path

    def folder(self, name: str, files: dict[str, str] | None = None) -> Path:
        """A project folder inside the server's project, holding these files."""
        folder = self.project / name
        folder.mkdir()
        for rel, text in (files or {}).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    project = tmp_path_factory.mktemp("sessions") / "project"
    project.mkdir()
    (project / "PRD.md").write_text(PRD)
    # One iteration per session: a real (fake-provider) run completes at once.
    server = LiveServer(project, fake_env(LOKI_MAX_ITERATIONS="1")).start()
    client = server.client()
    try:
        yield World(server, client, project)
    finally:
        client.close()
        server.stop()


def events_of(client: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    response = client.get("/api/events/history", params={"sessionId": session_id, "limit": 1000})
    return list(response.json()["events"])


# --- starting ------------------------------------------------------------------------


def test_start_without_a_body_runs_claude_on_the_projects_prd(world: World) -> None:
    response = world.client.post("/api/sessions")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"sessionId", "status", "message"}
    assert body["status"] == "starting"
    assert "claude" in body["message"]
    uuid.UUID(body["sessionId"])

    done = finished(world.client, body["sessionId"])
    assert done["provider"] == "claude"
    assert done["status"] == "completed"
    assert done["reason"] == "max iterations reached"
    assert done["dryRun"] is False
    assert done["prdPath"] == str(world.project / "PRD.md")
    assert done["projectDir"] == str(world.project)
    assert done["iteration"] == 1
    assert done["pid"] is None
    assert done["inputTokens"] > 0 and done["outputTokens"] > 0 and done["costUsd"] > 0
    assert done["taskCount"] == done["completedTasks"] == 4
    assert done["startedAt"] <= done["updatedAt"] and done["finishedAt"] is not None
    types = [e["type"] for e in events_of(world.client, body["sessionId"])]
    assert types[0] == "session:started" and types[-1] == "session:completed"
    assert {"agent:spawned", "task:created", "metrics:update", "phase:started"} <= set(types)


def test_an_empty_json_body_means_the_defaults_too(world: World) -> None:
    done = dry_run(world.client)  # {"options": {"dryRun": true}} and nothing else
    assert (done["provider"], done["prdPath"]) == ("claude", str(world.project / "PRD.md"))
    session_id = start(world.client, options={"dryRun": True}, provider=None)
    assert finished(world.client, session_id)["provider"] == "claude"


def test_start_answers_before_the_run_ends(world: World) -> None:
    folder = world.folder("slow-start", {"PRD.md": PRD})
    scenario(folder, "hang")
    response = world.client.post("/api/sessions", json={"projectDir": str(folder)})
    assert response.status_code == 201
    session_id = response.json()["sessionId"]
    assert session(world.client, session_id)["status"] in ("starting", "running")
    running(world.client, session_id)
    assert world.client.post(f"/api/sessions/{session_id}/stop").status_code == 200
    assert finished(world.client, session_id)["status"] == "stopped"


def test_dry_run_goes_through_the_store_and_the_event_log(world: World) -> None:
    folder = world.folder("dry", {"PRD.md": PRD})
    done = dry_run(world.client, projectDir=str(folder))
    session_id = done["id"]
    assert (done["status"], done["reason"], done["dryRun"]) == ("completed", "dry run", True)
    assert done["prdPath"] == str(folder / "PRD.md")
    assert done["pid"] is None and done["iteration"] == 1
    assert not (folder / ".fake-prompts").exists()  # no provider was called

    tasks = world.client.get(f"/api/sessions/{session_id}/tasks").json()["tasks"]
    assert [(t["title"], t["status"]) for t in tasks] == [
        ("Store todos in SQLite", "pending"),
        ("Choose the web framework", "completed"),
        ("Serve the REST API", "pending"),
        ("Iteration 1", "skipped"),
    ]
    assert str(folder / "PRD.md") in tasks[-1]["output"]  # the first prompt, built for real
    assert (done["taskCount"], done["completedTasks"]) == (4, 1)

    events = events_of(world.client, session_id)
    types = [e["type"] for e in events]
    assert (types[0], types[-1]) == ("session:started", "session:completed")
    assert Counter(types) == {
        "session:started": 1,
        "log:info": 2,  # the runner took it; what a run would call
        "task:created": 4,
        "task:completed": 1,  # the item already ticked in the PRD
        "session:completed": 1,
    }
    started, dry = events[0], events[-2]
    assert started["data"]["dryRun"] is True
    assert started["data"]["prdPath"] == str(folder / "PRD.md")
    assert "<prompt>" in dry["data"]["argv"] and dry["data"]["planItems"] == 3
    assert events[-1]["data"]["reason"] == "dry run"
    assert all(e["sessionId"] == session_id for e in events)
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


DISCOVERY = [
    ({"PRD.md": PRD}, "PRD.md"),
    ({"docs/SPEC.md": "# Spec\n"}, "docs/SPEC.md"),
    ({"REQUIREMENTS.md": "# Req\n"}, "REQUIREMENTS.md"),
    ({"prd.json": "{}"}, "prd.json"),
    ({"docs/SPEC.md": "# Spec\n", "PRD.md": PRD}, "PRD.md"),
    ({"README.md": "# Not a PRD\n"}, None),
    ({}, None),
]


@pytest.mark.parametrize(("files", "expected"), DISCOVERY)
def test_prd_is_discovered_in_the_usual_places(
    world: World, files: dict[str, str], expected: str | None
) -> None:
    folder = world.folder(f"discover-{uuid.uuid4().hex[:8]}", files)
    done = dry_run(world.client, projectDir=str(folder))
    assert done["prdPath"] == (str(folder / expected) if expected else None)
    assert done["projectDir"] == str(folder)


def test_an_explicit_prd_path_wins_and_is_resolved(world: World) -> None:
    folder = world.folder("explicit", {"PRD.md": PRD, "notes/plan.md": "# Plan\n"})
    relative = dry_run(world.client, projectDir=str(folder), prdPath="notes/plan.md")
    assert relative["prdPath"] == str(folder / "notes" / "plan.md")
    absolute = dry_run(world.client, projectDir=str(folder), prdPath=str(folder / "PRD.md"))
    assert absolute["prdPath"] == str(folder / "PRD.md")


# --- reading -------------------------------------------------------------------------


def test_session_details_count_tasks_and_agents(world: World) -> None:
    folder = world.folder("details", {"PRD.md": PRD})
    session_id = start(world.client, projectDir=str(folder))
    finished(world.client, session_id)
    body = world.client.get(f"/api/sessions/{session_id}").json()
    assert set(body) == {"session", "tasks", "agents", "activeAgents"}
    assert body["session"]["id"] == session_id
    assert body["tasks"] == {
        "total": 4,
        "pending": 0,
        "queued": 0,
        "running": 0,
        "completed": 4,
        "failed": 0,
        "skipped": 0,
    }
    agents = world.client.get(f"/api/sessions/{session_id}/agents").json()
    assert agents["count"] == len(agents["agents"]) == 2
    main, sub = agents["agents"]
    assert (main["type"], main["parent"], main["status"]) == ("claude", None, "completed")
    assert (sub["type"], sub["parent"], sub["status"]) == ("Explore", main["id"], "completed")
    assert body["agents"] == {"active": 0, "spawned": 2, "completed": 2, "failed": 0}
    assert body["activeAgents"] == []


def test_sessions_are_listed_newest_first_with_counts(world: World) -> None:
    ids = [dry_run(world.client, projectDir=str(world.folder(f"list-{i}")))["id"] for i in range(3)]
    listing = world.client.get("/api/sessions").json()
    assert set(listing) == {"sessions", "total", "running"}
    listed = [s["id"] for s in listing["sessions"]]
    assert listing["total"] == len(listed)
    assert [i for i in listed if i in ids] == ids[::-1]
    starts = [s["startedAt"] for s in listing["sessions"]]
    assert starts == sorted(starts, reverse=True)
    active = ("starting", "running", "paused", "stopping")
    assert listing["running"] == sum(s["status"] in active for s in listing["sessions"])


# --- steering ------------------------------------------------------------------------


def test_pause_resume_input_and_stop_a_running_session(world: World) -> None:
    folder = world.folder("steer", {"PRD.md": PRD})
    scenario(folder, "hang")
    session_id = start(world.client, projectDir=str(folder))
    running(world.client, session_id)
    base = f"/api/sessions/{session_id}"

    def control(action: str, **kwargs: Any) -> dict[str, Any]:
        response = world.client.post(f"{base}/{action}", **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"sessionId", "status", "message", "controlId"}
        assert body["sessionId"] == session_id and body["controlId"]
        return dict(body)

    assert control("pause")["status"] == "running"  # takes effect at the next iteration
    assert control("resume")["status"] == "running"  # cancels the pending pause
    sent = control("input", json={"input": "Use PostgreSQL", "context": "from the test"})
    received = wait_for(
        lambda: [e for e in events_of(world.client, session_id) if e["type"] == "input:received"]
    )
    assert received[0]["data"] == {"chars": len("Use PostgreSQL"), "controlId": sent["controlId"]}
    assert control("stop")["status"] == "stopping"
    done = finished(world.client, session_id)
    assert (done["status"], done["reason"], done["pid"]) == ("stopped", "stop requested", None)
    assert [e["type"] for e in events_of(world.client, session_id)][-1] == "session:stopped"


# --- deleting ------------------------------------------------------------------------


def test_delete_removes_the_session_its_tasks_agents_and_events(world: World) -> None:
    client = world.client
    keep = start(client, projectDir=str(world.folder("keep", {"PRD.md": PRD})))
    finished(client, keep)
    folder = world.folder("doomed", {"PRD.md": PRD})
    doomed = start(client, projectDir=str(folder))
    finished(client, doomed)
    tasks = client.get(f"/api/sessions/{doomed}/tasks").json()["tasks"]
    events = events_of(client, doomed)
    assert tasks and events and client.get(f"/api/sessions/{doomed}/agents").json()["count"]
    stats = client.get("/api/events/stats").json()
    all_tasks = client.get("/api/tasks", params={"limit": 1000}).json()
    completed = client.get("/api/status").json()["sessions"]["completed"]

    response = client.delete(f"/api/sessions/{doomed}")
    assert response.status_code == 200
    assert response.json() == {"sessionId": doomed, "deleted": True}

    base = f"/api/sessions/{doomed}"
    for method, path, kwargs in [
        ("GET", base, {}),
        ("DELETE", base, {}),
        ("GET", f"{base}/tasks", {}),
        ("GET", f"{base}/tasks/{tasks[0]['id']}", {}),
        ("GET", f"{base}/agents", {}),
        ("POST", f"{base}/stop", {}),
        ("POST", f"{base}/pause", {}),
        ("POST", f"{base}/resume", {}),
        ("POST", f"{base}/input", {"json": {"input": "hello?"}}),
    ]:
        assert_api_error(client.request(method, path, **kwargs), 404, "SESSION_NOT_FOUND")
    assert doomed not in {s["id"] for s in client.get("/api/sessions").json()["sessions"]}
    assert events_of(client, doomed) == []
    after = client.get("/api/tasks", params={"limit": 1000}).json()
    assert not {t["id"] for t in tasks} & {t["id"] for t in after["tasks"]}
    assert after["pagination"]["total"] == all_tasks["pagination"]["total"] - len(tasks)
    assert after["summary"]["total"] == all_tasks["summary"]["total"] - len(tasks)
    stats_after = client.get("/api/events/stats").json()
    assert stats_after["historySize"] == stats["historySize"] - len(events)
    assert client.get("/api/status").json()["sessions"]["completed"] == completed - 1
    for listing in ("/api/tasks/active", "/api/tasks/queue"):
        assert all(t["sessionId"] != doomed for t in client.get(listing).json()["tasks"])
    # Gone from the store itself, not only hidden by the API (agents have no global listing).
    with contextlib.closing(
        sqlite3.connect(f"file:{world.project / '.loki' / 'loki.db'}?mode=ro", uri=True)
    ) as db:
        for table in ("sessions", "tasks", "agents", "events", "controls"):
            column = "id" if table == "sessions" else "session_id"
            count = db.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (doomed,))
            assert count.fetchone() == (0,), table
        kept = db.execute("SELECT COUNT(*) FROM agents WHERE session_id = ?", (keep,))
        assert kept.fetchone() == (2,)
    # Nothing else went with it.
    assert session(client, keep)["status"] == "completed"
    assert client.get(f"/api/sessions/{keep}/tasks").json()["pagination"]["total"] == 4
    assert events_of(client, keep)
