"""The client library (both twins) against the same real server the CLI tests use:
every operation decodes the server's real answers, and the async follower streams."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from loki_mode.client import (
    AgentList,
    AsyncLokiClient,
    Event,
    EventStats,
    LokiApiError,
    LokiClient,
    Task,
    TaskList,
)

pytestmark = pytest.mark.e2e


def finished_session(client: LokiClient, project: Path) -> str:
    (project / "PRD.md").write_text("# Tiny PRD\n\nBuild nothing.\n")
    sid = client.start_session(str(project / "PRD.md"), dry_run=True, verbose=True).session_id
    deadline = time.monotonic() + 20
    while client.get_session(sid).session.status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return sid


def test_sync_client_operations(server: str, project: Path) -> None:
    with LokiClient(base_url=server, use_env=False) as client:
        assert client.live() is True
        assert client.ready() is True
        assert client.health().status == "healthy"
        assert client.status().version
        sid = finished_session(client, project)
        detail = client.get_session(sid)
        assert detail.session.prd_path and detail.session.prd_path.endswith("PRD.md")
        page = client.list_tasks(sid, limit=1)
        assert page.pagination.limit == 1 and len(page.tasks) == 1
        assert isinstance(client.get_task(sid, page.tasks[0].id), Task)
        assert isinstance(client.list_agents(sid), AgentList)
        assert isinstance(client.active_tasks(), TaskList)
        assert isinstance(client.queued_tasks(), TaskList)
        assert client.list_all_tasks(status="skipped", limit=1000).tasks is not None
        stats = client.event_stats()
        assert isinstance(stats, EventStats) and stats.history_size > 0
        history = client.event_history(session_id=sid, types="session:*", limit=10)
        assert [e.type for e in history.events][-1] == "session:completed"
        debug = client.event_history(session_id=sid, types=["log:debug"], limit=10)
        assert all(e.type == "log:debug" for e in debug.events)
        with pytest.raises(LokiApiError) as info:
            client.get_task(sid, "no-such-task")
        assert (info.value.status, info.value.code) == (404, "TASK_NOT_FOUND")
        assert client.delete_session(sid).deleted is True


def test_async_client_follows_a_session(server: str, project: Path) -> None:
    async def run() -> list[Event]:
        async with AsyncLokiClient(base_url=server, use_env=False) as client:
            started = await client.start_session(dry_run=True)
            got: list[Event] = []
            stream = client.events(started.session_id, history=100)
            try:
                async for event in stream:
                    got.append(event)
                    if event.type == "session:completed":
                        break
            finally:
                await stream.aclose()
            assert (await client.get_session(started.session_id)).session.status == "completed"
            return got

    events = asyncio.run(asyncio.wait_for(run(), 30))
    assert events[0].type == "session:started" and events[-1].type == "session:completed"
    ids = [int(e.id) for e in events]
    assert ids == sorted(set(ids))
