"""The autonomous loop end to end: real server, real fake-CLI subprocesses, real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, alive, fake_env, wait_for
from tests.engine.helpers import (
    EventCollector,
    agents,
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
PROMISE = "ALL REQUIREMENTS MET"

# What one `success` run of each fake emits (see tests/fakes/fake_*.py).
PER_RUN = {
    "claude": {"input": 1500, "output": 900, "cost": 0.06, "subagents": 1},
    "codex": {"input": 6000, "output": 1200, "cost": 0.0, "subagents": 1},
    "gemini": {"input": 8000, "output": 850, "cost": 0.0, "subagents": 0},
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("projects")


@pytest.fixture(scope="module")
def live(root: Path) -> Iterator[LiveServer]:
    """One server for the module; every test runs in a project folder of its own."""
    home = root / "home"
    home.mkdir()
    env = fake_env(
        LOKI_ALLOWED_ROOTS=str(root),
        LOKI_MAX_ITERATIONS="2",
        LOKI_MAX_RETRIES="2",
        LOKI_COMPLETION_PROMISE=PROMISE,
        LOKI_INPUT_TIMEOUT="30",
    )
    server = LiveServer(home, env).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with live.client() as c:
        yield c


@pytest.fixture
def folder(root: Path, request: pytest.FixtureRequest) -> Path:
    path = root / request.node.name.replace("[", "-").replace("]", "")
    path.mkdir()
    (path / "PRD.md").write_text("# Todo API\n\n- [ ] storage\n- [ ] endpoints\n")
    return path


@pytest.mark.parametrize("provider", ["claude", "codex", "gemini"])
def test_session_records_what_the_provider_did(
    live: LiveServer, client: httpx.Client, folder: Path, provider: str
) -> None:
    scenario(folder, "success")
    stream = EventCollector(live.url, until="session:completed,session:failed")
    sid = start(client, provider=provider, projectDir=str(folder))
    streamed = [e for e in stream.wait() if e["sessionId"] == sid]
    body = wait_status(client, sid)
    s, expected = body["session"], PER_RUN[provider]

    assert s["status"] == "completed" and s["reason"] == "max iterations reached"
    assert s["iteration"] == 2 and s["currentPhase"] == "implement"
    assert s["prdPath"] == str(folder / "PRD.md")
    assert s["inputTokens"] == 2 * expected["input"]
    assert s["outputTokens"] == 2 * expected["output"]
    assert s["costUsd"] == pytest.approx(2 * expected["cost"])

    titles = {t["title"]: t["status"] for t in tasks(client, sid)}
    assert titles.pop("Iteration 1") == titles.pop("Iteration 2") == "completed"
    assert len(titles) == 3 and set(titles.values()) == {"completed"}
    assert s["taskCount"] == 5 and s["completedTasks"] == 5

    found = agents(client, sid)
    mains = [a for a in found if a["id"].startswith("main-")]
    subs = [a for a in found if not a["id"].startswith("main-")]
    assert [a["id"] for a in mains] == ["main-1", "main-2"]
    assert len(subs) == 2 * expected["subagents"]
    assert all(a["status"] == "completed" for a in found)
    assert body["agents"] == {
        "active": 0,
        "spawned": len(found),
        "completed": len(found),
        "failed": 0,
    }

    logged = events(client, sid)
    assert [e["id"] for e in streamed] == [e["id"] for e in logged]
    assert [int(e["id"]) for e in logged] == sorted(int(e["id"]) for e in logged)
    types = [e["type"] for e in logged]
    assert types[0] == "session:started" and types[-1] == "session:completed"
    assert types.count("metrics:update") >= 2
    assert [e["data"]["phase"] for e in logged if e["type"] == "phase:started"][:2] == [
        "design",
        "implement",
    ]
    for sub in subs:
        spawned = types.index("agent:spawned", *[0])  # noqa: F841 - order checked below
        ids = [e["data"].get("agentId") for e in logged]
        assert ids.index(sub["id"]) < len(ids) - 1 - ids[::-1].index(sub["id"])
    log_file = folder / ".loki" / "logs" / sid / "iteration-1.log"
    assert log_file.exists() and log_file.stat().st_size > 0


def test_completion_promise_completes_the_session(client: httpx.Client, folder: Path) -> None:
    scenario(folder, "promise")
    sid = start(client, projectDir=str(folder))
    s = wait_status(client, sid)["session"]
    assert (s["status"], s["reason"], s["iteration"]) == (
        "completed",
        "completion promise fulfilled",
        1,
    )
    (prompt,) = prompts(folder)
    assert f"COMPLETION PROMISE: {PROMISE}" in prompt
    assert str(folder / "PRD.md") in prompt and "iteration 1 of 2" in prompt


def test_repeated_crashes_back_off_then_fail(client: httpx.Client, folder: Path) -> None:
    scenario(folder, "crash")
    sid = start(client, provider="codex", projectDir=str(folder), options={"maxIterations": 10})
    s = wait_status(client, sid)["session"]
    assert s["status"] == "failed" and s["reason"].startswith("3 consecutive failures")
    waits = [e for e in events(client, sid, "log:info") if e["data"].get("reason") == "backoff"]
    assert [w["data"]["seconds"] >= 0.2 for w in waits] == [True, True]
    assert waits[1]["data"]["seconds"] >= 0.4  # exponential
    assert {t["status"] for t in tasks(client, sid) if t["title"].startswith("Iteration")} == {
        "failed"
    }


def test_rate_limit_waits_until_the_reset_then_continues(
    client: httpx.Client, folder: Path
) -> None:
    scenario(folder, "ratelimit,promise")
    sid = start(client, projectDir=str(folder))
    s = wait_status(client, sid)["session"]
    assert (s["status"], s["reason"], s["iteration"]) == (
        "completed",
        "completion promise fulfilled",
        2,
    )
    (wait,) = [
        e for e in events(client, sid, "log:info") if e["data"].get("reason") == "rate limit"
    ]
    assert 0.5 <= wait["data"]["seconds"] <= 5
    assert any("Rate limit" in e["data"]["message"] for e in events(client, sid, "log:warn"))


def test_non_retryable_failure_fails_fast(client: httpx.Client, folder: Path) -> None:
    scenario(folder, "auth")
    sid = start(client, projectDir=str(folder))
    s = wait_status(client, sid)["session"]
    assert s["status"] == "failed" and "log" in s["reason"].lower()
    assert s["iteration"] == 1


def test_timeout_fails_the_session_and_ends_the_process(client: httpx.Client, folder: Path) -> None:
    scenario(folder, "hang")
    sid = start(client, projectDir=str(folder), options={"timeout": 1})
    pid = wait_for(lambda: session(client, sid)["session"]["pid"])
    s = wait_status(client, sid)["session"]
    assert (s["status"], s["reason"], s["pid"]) == ("failed", "timeout", None)
    assert not group_pids(pid)


def test_stop_ends_the_whole_process_group(client: httpx.Client, folder: Path) -> None:
    scenario(folder, "ignore-term")
    sid = start(client, projectDir=str(folder))
    pid = wait_for(lambda: session(client, sid)["session"]["pid"])
    child = int(
        wait_for(
            lambda: (
                (folder / ".fake-child-pids").exists()
                and (folder / ".fake-child-pids").read_text().split()[0]
            )
        )
    )
    assert alive(child)
    response = client.post(f"/api/sessions/{sid}/stop")
    assert response.status_code == 200 and response.json()["status"] == "stopping"
    s = wait_status(client, sid, timeout=10)["session"]
    assert (s["status"], s["reason"]) == ("stopped", "stop requested")
    assert not alive(pid) and not alive(child) and not group_pids(pid)
    assert [e["type"] for e in events(client, sid)][-1] == "session:stopped"


def _wait_event(client: httpx.Client, sid: str, type_: str) -> dict:  # type: ignore[type-arg]
    return wait_for(lambda: next(iter(events(client, sid, type_)), None))


def test_input_while_running_reaches_the_next_prompt_once(
    client: httpx.Client, folder: Path
) -> None:
    scenario(folder, "ask,promise")
    sid = start(client, projectDir=str(folder))
    asked = _wait_event(client, sid, "input:requested")
    assert asked["data"]["question"] == "Which database should I use?"
    assert session(client, sid)["session"]["status"] == "running"
    sent = client.post(f"/api/sessions/{sid}/input", json={"input": "Use SQLite, please"})
    assert sent.status_code == 200, sent.text
    s = wait_status(client, sid)["session"]
    assert s["status"] == "completed"
    first, second = prompts(folder)
    assert "Use SQLite, please" not in first
    assert second.count("Use SQLite, please") == 1
    consumed = events(client, sid, "input:consumed")
    assert [e["data"]["controlId"] for e in consumed] == [sent.json()["controlId"]]


def test_input_while_paused_waits_for_resume(client: httpx.Client, folder: Path) -> None:
    scenario(folder, "ask,promise")
    sid = start(client, projectDir=str(folder))
    _wait_event(client, sid, "input:requested")
    assert client.post(f"/api/sessions/{sid}/pause").status_code == 200
    wait_status(client, sid, "paused")
    sent = client.post(f"/api/sessions/{sid}/input", json={"input": "Postgres"})
    assert sent.status_code == 200 and sent.json()["status"] == "paused"
    assert len(prompts(folder)) == 1 and not events(client, sid, "input:consumed")
    assert client.post(f"/api/sessions/{sid}/resume").status_code == 200
    assert wait_status(client, sid)["session"]["status"] == "completed"
    assert sum(p.count("Postgres") for p in prompts(folder)) == 1
    types = [e["type"] for e in events(client, sid)]
    assert (
        types.index("session:paused")
        < types.index("session:resumed")
        < types.index("input:consumed")
    )


def test_pause_during_a_run_takes_effect_at_the_iteration_boundary(
    client: httpx.Client, folder: Path
) -> None:
    scenario(folder, "slow,promise")
    sid = start(client, projectDir=str(folder))
    wait_for(lambda: session(client, sid)["session"]["pid"])
    assert client.post(f"/api/sessions/{sid}/pause").status_code == 200
    assert session(client, sid)["session"]["status"] == "running"  # the run is not suspended
    wait_status(client, sid, "paused", timeout=30)
    assert session(client, sid)["tasks"]["running"] == 0
    assert len(prompts(folder)) == 1
    assert client.post(f"/api/sessions/{sid}/resume").status_code == 200
    assert wait_status(client, sid)["session"]["status"] == "completed"
    assert len(prompts(folder)) == 2


def test_two_projects_run_at_once_each_isolated(client: httpx.Client, root: Path) -> None:
    a, b = root / "iso-a", root / "iso-b"
    for p in (a, b):
        p.mkdir()
        scenario(p, "hang")
    sa = start(client, projectDir=str(a))
    sb = start(client, projectDir=str(b))
    wait_status(client, sa, "running")
    wait_status(client, sb, "running")
    clash = client.post("/api/sessions", json={"projectDir": str(a)})
    assert clash.status_code == 409 and clash.json()["details"]["sessionId"] == sa
    wait_for(lambda: len(prompts(a)) == 1 and len(prompts(b)) == 1)
    assert (a / ".loki" / "logs" / sa).is_dir() and not (a / ".loki" / "logs" / sb).exists()
    assert (b / ".loki" / "logs" / sb).is_dir() and not (b / ".loki" / "logs" / sa).exists()
    for sid in (sa, sb):
        assert client.post(f"/api/sessions/{sid}/stop").status_code == 200
    assert wait_status(client, sa)["session"]["status"] == "stopped"
    assert wait_status(client, sb)["session"]["status"] == "stopped"


def test_project_outside_the_allowed_roots_is_refused(client: httpx.Client, tmp_path: Path) -> None:
    response = client.post("/api/sessions", json={"projectDir": str(tmp_path)})
    assert response.status_code == 422 and response.json()["code"] == "VALIDATION_ERROR"
