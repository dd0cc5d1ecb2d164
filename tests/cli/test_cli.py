"""Every `loki` client command as a subprocess against a real server: output and exit codes.

Dry-run sessions (no provider) cover the read paths; the fake Claude CLI (picked by
`.fake-scenario` in the server's project) covers running, completed, failed and
stopped sessions, controls and conflicts.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from loki_mode.client import LokiClient
from loki_mode.types import ACTIVE_STATUSES, FINISHED_STATUSES

pytestmark = pytest.mark.e2e

COMMANDS = ["serve", "start", "sessions", "status", "tasks", "stop", "pause", "resume"]
COMMANDS += ["input", "delete", "events", "health"]


def cli_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOKI_", "FORCE_COLOR"))}
    env.update(LOKI_API_URL=url, NO_COLOR="1", PYTHONUNBUFFERED="1")
    env.pop("COLUMNS", None)
    return env


def loki(
    url: str, *args: str, stdin: str | None = None, timeout: float = 30, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loki_mode", *args],
        env=cli_env(url),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def loki_bg(url: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """A long-running `loki` (events, --follow): always terminated and waited for."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "loki_mode", *args],
        env=cli_env(url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def read_json_lines(
    proc: subprocess.Popen[str], until: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> list[dict[str, Any]]:
    """Read NDJSON from a running `loki ... --json` until a line satisfies `until`."""
    assert proc.stdout is not None
    lines: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = proc.stdout.readline()
        if not raw:
            break
        lines.append(json.loads(raw))
        if until(lines[-1]):
            return lines
    raise AssertionError(
        f"no matching line; got {lines}; stderr: {proc.stderr and proc.stderr.read()}"
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_status(url: str, sid: str, wanted: set[str] | frozenset[str], timeout: float = 20) -> str:
    with LokiClient(base_url=url, use_env=False) as client:
        deadline = time.monotonic() + timeout
        while True:
            status = client.get_session(sid).session.status
            if status in wanted or time.monotonic() > deadline:
                assert status in wanted, f"{sid} is {status}, wanted {wanted}"
                return status
            time.sleep(0.05)


@pytest.fixture
def scenario(project: Path, server: str) -> Iterator[Callable[[str], None]]:
    """Pick the fake CLI's scenario; every session still active afterwards is stopped."""

    def choose(name: str) -> None:
        (project / ".fake-scenario").write_text(name)

    yield choose
    (project / ".fake-scenario").unlink(missing_ok=True)
    with LokiClient(base_url=server, use_env=False) as client:
        for s in client.list_sessions().sessions:
            if s.status in ACTIVE_STATUSES and s.status != "stopping":
                client.stop_session(s.id)
        for s in client.list_sessions().sessions:
            if s.status in ACTIVE_STATUSES:
                wait_status(server, s.id, FINISHED_STATUSES)


def start_dry_run(url: str) -> str:
    started = ok_json(loki(url, "start", "--dry-run", "--json"))
    sid: str = started["sessionId"]
    wait_status(url, sid, {"completed"})
    return sid


# --- help and health -------------------------------------------------------------


def test_help_lists_every_command(server: str) -> None:
    result = loki(server, "--help")
    assert result.returncode == 0
    for command in (*COMMANDS, "demo"):
        assert command in result.stdout


def test_health(server: str) -> None:
    result = loki(server, "health")
    assert result.returncode == 0, result.stderr
    assert "healthy" in result.stdout and "claude" in result.stdout
    health = ok_json(loki(server, "health", "--json"))
    assert health["status"] == "healthy"
    assert health["providers"]["claude"] is True


def test_server_status(server: str) -> None:
    result = loki(server, "status")
    assert result.returncode == 0, result.stderr
    assert "Version" in result.stdout and "Uptime" in result.stdout
    status = ok_json(loki(server, "status", "--json"))
    assert {"version", "uptime", "providers", "sessions", "events", "system"} <= set(status)


# --- a dry-run session through every read command ------------------------------------


def test_dry_run_session_reads_and_delete(server: str) -> None:
    started = loki(server, "start", "--dry-run")
    assert started.returncode == 0, started.stderr
    assert "Started session" in started.stdout
    sid = started.stdout.split("Started session ", 1)[1].split()[0]
    wait_status(server, sid, {"completed"})

    listed = loki(server, "sessions")
    assert listed.returncode == 0 and sid in listed.stdout and "completed" in listed.stdout
    assert sid in {s["id"] for s in ok_json(loki(server, "sessions", "--json"))["sessions"]}

    shown = loki(server, "status", sid)
    assert shown.returncode == 0 and sid in shown.stdout and "completed" in shown.stdout
    detail = ok_json(loki(server, "status", sid, "--json"))
    assert detail["session"]["id"] == sid and detail["session"]["status"] == "completed"

    page = ok_json(loki(server, "tasks", sid, "--json", "--limit", "5", "--offset", "0"))
    assert page["pagination"]["limit"] == 5 and page["tasks"]
    assert all(t["sessionId"] == sid for t in page["tasks"])
    table = loki(server, "tasks", sid)
    assert table.returncode == 0 and page["tasks"][0]["id"] in table.stdout
    everything = ok_json(loki(server, "tasks", "--json", "--limit", "1000"))
    assert {t["id"] for t in page["tasks"]} <= {t["id"] for t in everything["tasks"]}
    assert loki(server, "tasks").returncode == 0

    bad = loki(server, "tasks", sid, "--status", "nonsense")
    assert bad.returncode == 1 and "VALIDATION_ERROR" in bad.stderr

    deleted = loki(server, "delete", sid)
    assert deleted.returncode == 0 and f"Deleted session {sid}" in deleted.stdout
    gone = loki(server, "status", sid)
    assert gone.returncode == 1
    assert "SESSION_NOT_FOUND" in gone.stderr and "404" in gone.stderr
    assert gone.stderr.count("\n") == 1


def test_start_json_and_validation_error(server: str, project: Path) -> None:
    sid = start_dry_run(server)
    assert ok_json(loki(server, "delete", sid, "--json")) == {"sessionId": sid, "deleted": True}
    (project / "docs").mkdir(exist_ok=True)
    (project / "docs" / "SPEC.md").write_text("# Spec\n")
    # A PRD path relative to where `loki` runs reaches the server as that file.
    started = ok_json(loki(server, "start", "SPEC.md", "--dry-run", "--json", cwd=project / "docs"))
    wait_status(server, started["sessionId"], {"completed"})
    shown = ok_json(loki(server, "status", started["sessionId"], "--json"))
    assert shown["session"]["prdPath"].endswith("SPEC.md")
    outside = loki(server, "start", "--dry-run", "--project-dir", "/")
    assert outside.returncode == 1 and "VALIDATION_ERROR" in outside.stderr
    bad = loki(server, "start", "--dry-run", "--provider", "nope")
    assert bad.returncode == 1
    assert "VALIDATION_ERROR" in bad.stderr and "422" in bad.stderr
    missing = loki(server, "start", "no-such-prd.md", "--dry-run")
    assert missing.returncode == 1 and "VALIDATION_ERROR" in missing.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("status", "nope"),
        ("tasks", "nope"),
        ("stop", "nope"),
        ("pause", "nope"),
        ("resume", "nope"),
        ("input", "nope", "hello"),
        ("delete", "nope"),
    ],
)
def test_unknown_session_is_404(server: str, args: tuple[str, ...]) -> None:
    result = loki(server, *args)
    assert result.returncode == 1
    assert "SESSION_NOT_FOUND" in result.stderr and "HTTP 404" in result.stderr
    assert result.stdout == ""


# --- following a session to its outcome --------------------------------------------


def test_follow_dry_run_exits_zero(server: str) -> None:
    result = loki(server, "start", "--dry-run", "--follow")
    assert result.returncode == 0, result.stderr
    assert "completed" in result.stdout and "tasks" in result.stdout


def test_follow_completed_session(server: str, scenario: Callable[[str], None]) -> None:
    scenario("promise")
    result = loki(server, "start", "--follow")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed" in result.stdout
    assert "Latest output" in result.stdout


def test_follow_failed_session_exits_one(server: str, scenario: Callable[[str], None]) -> None:
    scenario("crash")
    result = loki(server, "start", "--follow", "--timeout", "60")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed" in result.stdout


def test_follow_json_stopped_session_exits_two(
    server: str, scenario: Callable[[str], None]
) -> None:
    scenario("hang")
    with loki_bg(server, "start", "--follow", "--json") as follow:
        first = read_json_lines(follow, lambda line: line.get("type") == "session:started")
        sid = first[-1]["sessionId"]
        wait_status(server, sid, {"running"})
        stopped = loki(server, "stop", sid)
        assert stopped.returncode == 0 and "stopping" in stopped.stdout
        assert follow.wait(timeout=30) == 2
        assert follow.stdout is not None
        final = json.loads(follow.stdout.read().strip().splitlines()[-1])
        assert final["session"]["status"] == "stopped"


# --- controls and conflicts on a running session --------------------------------------


def test_controls_and_conflicts(server: str, scenario: Callable[[str], None]) -> None:
    scenario("hang")
    sid = ok_json(loki(server, "start", "--json"))["sessionId"]
    wait_status(server, sid, {"running"})

    again = loki(server, "start")
    assert again.returncode == 1
    assert "SESSION_ALREADY_RUNNING" in again.stderr and sid in again.stderr

    sent = loki(server, "input", sid, "Prefer small commits")
    assert sent.returncode == 0 and sid in sent.stdout
    piped = ok_json(loki(server, "input", sid, "-", "--json", stdin="from stdin\n"))
    assert piped["sessionId"] == sid
    empty = loki(server, "input", sid, "-", stdin="")
    assert empty.returncode == 1 and "VALIDATION_ERROR" in empty.stderr

    assert loki(server, "pause", sid).returncode == 0
    assert loki(server, "resume", sid).returncode == 0

    busy = loki(server, "delete", sid)
    assert busy.returncode == 1 and "409" in busy.stderr

    stop = ok_json(loki(server, "stop", sid, "--json"))
    assert stop["sessionId"] == sid
    wait_status(server, sid, {"stopped"})
    twice = loki(server, "stop", sid)
    assert twice.returncode == 1 and "409" in twice.stderr
    late = loki(server, "input", sid, "too late")
    assert late.returncode == 1 and "409" in late.stderr

    with LokiClient(base_url=server, use_env=False) as client:
        types = [e.type for e in client.event_history(session_id=sid, limit=1000).events]
    assert "input:received" in types and "session:stopped" in types


# --- events ------------------------------------------------------------------------------


def test_events_follow_json_and_text(server: str) -> None:
    with loki_bg(server, "events", "--json", "--types", "session:*") as follow:
        time.sleep(1.0)  # let it subscribe: it follows live, from now on
        sid = start_dry_run(server)
        lines = read_json_lines(
            follow, lambda e: e["type"] == "session:completed" and e["sessionId"] == sid
        )
    assert all(e["type"].startswith("session:") for e in lines)
    assert {"session:started", "session:completed"} <= {
        e["type"] for e in lines if e["sessionId"] == sid
    }
    ids = [int(e["id"]) for e in lines]
    assert ids == sorted(set(ids))

    with loki_bg(server, "events", "--session", sid, "--history", "50") as text:
        assert text.stdout is not None
        seen = ""
        deadline = time.monotonic() + 20
        while "session:completed" not in seen and time.monotonic() < deadline:
            seen += text.stdout.readline()
    assert "session:started" in seen and "session:completed" in seen and sid in seen


def test_events_resume_across_a_server_restart(server_factory: Callable[[], Any]) -> None:
    srv = server_factory()
    with loki_bg(srv.url, "events", "--json") as follow:
        time.sleep(1.0)
        first = start_dry_run(srv.url)
        seen = read_json_lines(follow, lambda e: e["type"] == "session:completed")
        srv.restart()
        second = start_dry_run(srv.url)
        seen += read_json_lines(
            follow, lambda e: e["type"] == "session:completed" and e["sessionId"] == second
        )
    with LokiClient(base_url=srv.url, use_env=False) as client:
        history = [e.id for e in client.event_history(limit=1000).events]
    got = [e["id"] for e in seen]
    low, high = int(got[0]), int(got[-1])
    # Everything the log holds in that range arrived, once each and in order: no gap, no duplicate.
    assert got == [i for i in history if low <= int(i) <= high]
    assert first != second and any(e["sessionId"] == first for e in seen)


# --- no server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "args", [("sessions",), ("health",), ("start", "--dry-run"), ("events",), ("status",)]
)
def test_server_down_prints_one_line(args: tuple[str, ...]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = loki(url, *args, timeout=20)
    assert result.returncode == 3
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert url in lines[0] and "loki serve" in lines[0]


def test_url_option_wins_over_environment(server: str) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "loki_mode", "--url", server, "health", "--json"],
        env=cli_env(down),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "healthy"
