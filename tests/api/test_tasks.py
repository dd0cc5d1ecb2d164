"""Tasks over HTTP: pages, filters, the status summary, one task, the active and queued lists."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from loki_mode.types import TASK_STATUSES
from tests.api import dry_run, finished, running, scenario, start
from tests.conftest import LiveServer, fake_env, wait_for

pytestmark = pytest.mark.e2e

ITEMS = 23  # checklist items in each PRD: a dry run makes one task each, plus its iteration
DONE = 8


def prd(tag: str) -> str:
    lines = [f"- [{'x' if i < DONE else ' '}] {tag} item {i}" for i in range(ITEMS)]
    return "# Plan\n\n" + "\n".join(lines) + "\n"


@dataclass
class World:
    server: LiveServer
    client: httpx.Client
    project: Path
    sessions: list[str]

    def folder(self, name: str) -> Path:
        folder = self.project / name
        folder.mkdir()
        (folder / "PRD.md").write_text(prd(name))
        return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    project = tmp_path_factory.mktemp("tasks") / "project"
    project.mkdir()
    server = LiveServer(project, fake_env(LOKI_MAX_ITERATIONS="1")).start()
    client = server.client()
    try:
        w = World(server, client, project, [])
        for name in ("alpha", "beta", "gamma"):
            w.sessions.append(dry_run(client, projectDir=str(w.folder(name)))["id"])
        yield w
    finally:
        client.close()
        server.stop()


def get(client: httpx.Client, path: str, **query: Any) -> dict[str, Any]:
    response = client.get(path, params=query)
    assert response.status_code == 200, response.text
    return dict(response.json())


def every_page(client: httpx.Client, path: str, limit: int, **query: Any) -> list[dict[str, Any]]:
    """Walk the pages; check each page's pagination block on the way."""
    tasks: list[dict[str, Any]] = []
    total = None
    while True:
        page = get(client, path, limit=limit, offset=len(tasks), **query)
        assert set(page) == {"tasks", "pagination", "summary"}
        info = page["pagination"]
        total = info["total"] if total is None else total
        assert info == {
            "total": total,
            "limit": limit,
            "offset": len(tasks),
            "hasMore": len(tasks) + len(page["tasks"]) < total,
        }
        assert len(page["tasks"]) == min(limit, total - len(tasks))
        tasks += page["tasks"]
        if not info["hasMore"]:
            return tasks


@pytest.mark.parametrize("limit", [1, 7, 24, 1000])
def test_pages_cover_every_task_once_in_a_stable_order(world: World, limit: int) -> None:
    everything = get(world.client, "/api/tasks", limit=1000)
    paged = every_page(world.client, "/api/tasks", limit)
    ids = [t["id"] for t in paged]
    assert len(ids) == len(set(ids)) == everything["pagination"]["total"]
    assert ids == [t["id"] for t in everything["tasks"]]


def test_session_pages_follow_creation_order(world: World) -> None:
    session_id = world.sessions[1]
    tasks = every_page(world.client, f"/api/sessions/{session_id}/tasks", 5)
    assert [t["title"] for t in tasks] == [
        *(f"beta item {i}" for i in range(ITEMS)),
        "Iteration 1",
    ]
    assert {t["sessionId"] for t in tasks} == {session_id}
    created = [t["createdAt"] for t in tasks]
    assert created == sorted(created)


def test_default_page_is_the_first_hundred(world: World) -> None:
    page = get(world.client, "/api/tasks")
    assert page["pagination"]["limit"] == 100 and page["pagination"]["offset"] == 0
    assert len(page["tasks"]) == min(100, page["pagination"]["total"])


def test_a_page_past_the_end_is_empty(world: World) -> None:
    total = get(world.client, "/api/tasks", limit=1)["pagination"]["total"]
    page = get(world.client, "/api/tasks", offset=total + 10)
    assert page["tasks"] == []
    assert page["pagination"] == {
        "total": total,
        "limit": 100,
        "offset": total + 10,
        "hasMore": False,
    }


def test_earlier_pages_do_not_move_when_tasks_are_added(world: World) -> None:
    first = get(world.client, "/api/tasks", limit=10)
    total = first["pagination"]["total"]
    extra = dry_run(world.client, projectDir=str(world.folder("late")))["id"]
    rest = every_page(world.client, "/api/tasks", 10)
    assert [t["id"] for t in rest[:10]] == [t["id"] for t in first["tasks"]]
    assert len(rest) == total + ITEMS + 1
    assert {t["sessionId"] for t in rest[total:]} == {extra}


@pytest.mark.parametrize("status", TASK_STATUSES)
def test_status_filter_pages_only_that_status(world: World, status: str) -> None:
    summary = get(world.client, "/api/tasks", limit=1)["summary"]
    tasks = every_page(world.client, "/api/tasks", 10, status=status)
    assert len(tasks) == summary[status]
    assert {t["status"] for t in tasks} <= {status}
    session_id = world.sessions[0]
    own = every_page(world.client, f"/api/sessions/{session_id}/tasks", 10, status=status)
    assert {t["sessionId"] for t in own} <= {session_id}
    expected = {"pending": ITEMS - DONE, "completed": DONE, "skipped": 1}.get(status, 0)
    assert len(own) == expected


def test_summary_counts_every_status(world: World) -> None:
    everything = get(world.client, "/api/tasks", limit=1000)
    summary = everything["summary"]
    assert set(summary) == {"total", *TASK_STATUSES}
    counted = Counter(t["status"] for t in everything["tasks"])
    assert summary == {"total": len(everything["tasks"]), **{s: counted[s] for s in TASK_STATUSES}}
    per_session = [
        get(world.client, f"/api/sessions/{s['id']}/tasks", limit=1)["summary"]
        for s in get(world.client, "/api/sessions")["sessions"]
    ]
    assert summary == {k: sum(p[k] for p in per_session) for k in summary}
    # The summary is of the session (or of all), whatever the page or filter shows.
    assert get(world.client, "/api/tasks", limit=1, status="failed")["summary"] == summary


def test_one_task_is_the_listed_task(world: World) -> None:
    session_id = world.sessions[2]
    for task in get(world.client, f"/api/sessions/{session_id}/tasks")["tasks"][:3]:
        assert get(world.client, f"/api/sessions/{session_id}/tasks/{task['id']}") == task


def test_queue_lists_pending_and_queued_tasks(world: World) -> None:
    summary = get(world.client, "/api/tasks", limit=1)["summary"]
    queue = get(world.client, "/api/tasks/queue")
    assert set(queue) == {"tasks", "count"}
    assert queue["count"] == len(queue["tasks"]) == summary["pending"] + summary["queued"]
    assert {t["status"] for t in queue["tasks"]} <= {"pending", "queued"}
    ids = [t["id"] for t in get(world.client, "/api/tasks", limit=1000)["tasks"]]
    positions = [ids.index(t["id"]) for t in queue["tasks"]]
    assert positions == sorted(positions)


def test_active_lists_running_tasks(world: World) -> None:
    folder = world.folder("busy")
    scenario(folder, "hang")
    session_id = start(world.client, projectDir=str(folder))
    try:
        running(world.client, session_id)
        active = wait_for(lambda: (a := get(world.client, "/api/tasks/active"))["count"] and a)
        assert active["count"] == len(active["tasks"])
        assert {t["status"] for t in active["tasks"]} == {"running"}
        mine = [t for t in active["tasks"] if t["sessionId"] == session_id]
        assert [t["title"] for t in mine] == ["Iteration 1"]
        assert get(world.client, "/api/tasks", limit=1)["summary"]["running"] == active["count"]
    finally:
        world.client.post(f"/api/sessions/{session_id}/stop")
        finished(world.client, session_id)
    assert all(
        t["sessionId"] != session_id for t in get(world.client, "/api/tasks/active")["tasks"]
    )
