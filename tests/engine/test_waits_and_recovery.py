"""Controls during waits, and recovery after the server is killed mid-session."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, alive, fake_env, wait_for
from tests.engine.helpers import (
    events,
    group_pids,
    prompts,
    scenario,
    session,
    start,
    tasks,
    wait_status,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def slow_waits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Backoff and rate-limit waits long enough to act during them."""
    root = tmp_path_factory.mktemp("waits")
    home = root / "home"
    home.mkdir()
    env = fake_env(
        LOKI_ALLOWED_ROOTS=str(root),
        LOKI_BASE_WAIT="30",
        LOKI_MAX_WAIT="60",
        FAKE_RESET_SECONDS="30",
    )
    server = LiveServer(home, env).start()
    try:
        yield server
    finally:
        server.stop()


def _waiting(client: httpx.Client, sid: str, why: str) -> None:
    wait_for(
        lambda: any(e["data"].get("reason") == why for e in events(client, sid, "log:info")),
        timeout=15,
    )


@pytest.mark.parametrize(("fake", "why"), [("crash", "backoff"), ("ratelimit", "rate limit")])
def test_pause_resume_and_stop_during_a_wait(slow_waits: LiveServer, fake: str, why: str) -> None:
    folder = slow_waits.project.parent / f"wait-{fake}"
    folder.mkdir()
    scenario(folder, fake)
    with slow_waits.client() as client:
        sid = start(client, projectDir=str(folder))
        _waiting(client, sid, why)
        assert client.post(f"/api/sessions/{sid}/pause").status_code == 200
        wait_status(client, sid, "paused", timeout=3)
        assert client.post(f"/api/sessions/{sid}/resume").status_code == 200
        wait_status(client, sid, "running", timeout=3)
        assert len(prompts(folder)) == 1  # still waiting: no new run yet
        began = time.monotonic()
        assert client.post(f"/api/sessions/{sid}/stop").status_code == 200
        s = wait_status(client, sid, timeout=5)["session"]
        assert s["status"] == "stopped" and time.monotonic() - began < 3
        types = [e["type"] for e in events(client, sid)]
        assert types.index("session:paused") < types.index("session:resumed")
        assert types[-1] == "session:stopped"


def test_stop_while_paused(slow_waits: LiveServer) -> None:
    folder = slow_waits.project.parent / "paused-stop"
    folder.mkdir()
    scenario(folder, "crash")
    with slow_waits.client() as client:
        sid = start(client, projectDir=str(folder))
        _waiting(client, sid, "backoff")
        client.post(f"/api/sessions/{sid}/pause")
        wait_status(client, sid, "paused", timeout=3)
        assert client.post(f"/api/sessions/{sid}/stop").json()["status"] == "stopping"
        assert wait_status(client, sid, timeout=3)["session"]["status"] == "stopped"


@pytest.mark.parametrize("mode", ["resume", "fail"])
def test_server_killed_mid_session(project: Path, mode: str) -> None:
    scenario(project, "ignore-term,promise")
    server = LiveServer(
        project, fake_env(LOKI_RECOVERY=mode, LOKI_COMPLETION_PROMISE="SHIPPED")
    ).start()
    try:
        with server.client() as client:
            sid = start(client)
            pid = wait_for(lambda: session(client, sid)["session"]["pid"])
            child_file = project / ".fake-child-pids"
            child = int(wait_for(lambda: child_file.exists() and child_file.read_text().split()[0]))
            before = events(client, sid)
        server.kill()
        assert alive(pid) and alive(child)  # SIGKILL leaves the provider group behind

        server.start()
        with server.client() as client:
            assert not group_pids(pid) and not alive(child)
            s = wait_status(client, sid, timeout=20)["session"]
            after = events(client, sid)
            iteration_1 = next(t for t in tasks(client, sid) if t["title"] == "Iteration 1")
        assert [e["id"] for e in after[: len(before)]] == [e["id"] for e in before]
        assert iteration_1["status"] == "failed" and "interrupted" in iteration_1["error"]
        if mode == "resume":
            assert (s["status"], s["reason"], s["iteration"]) == (
                "completed",
                "completion promise fulfilled",
                2,
            )
            assert len(prompts(project)) == 2
        else:
            assert s["status"] == "failed" and "restarted" in s["reason"]
            assert len(prompts(project)) == 1
    finally:
        server.stop()
