"""`loki demo` end to end in a fresh folder, and the replayer it runs as a provider."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from loki_mode.replay import demo_transcript
from tests.conftest import LiveServer, fake_env, free_port

pytestmark = pytest.mark.e2e


def test_demo_runs_a_whole_session_without_a_provider(tmp_path: Path) -> None:
    project = tmp_path / "demo"
    env = {k: v for k, v in fake_env().items() if not k.startswith("LOKI_")}
    env["PATH"] = "/usr/bin:/bin"  # no provider CLI anywhere
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "loki_mode",
            "demo",
            "--exit",
            "--delay",
            "0",
            "--port",
            str(free_port()),
            "--project-dir",
            str(project),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed: completion promise fulfilled" in result.stdout

    server = LiveServer(project, fake_env()).start()
    try:
        with server.client() as client:
            (session,) = client.get("/api/sessions").json()["sessions"]
            assert session["status"] == "completed" and session["costUsd"] == pytest.approx(0.1874)
            tasks = client.get(f"/api/sessions/{session['id']}/tasks").json()
            titles = {t["title"]: t["status"] for t in tasks["tasks"]}
            assert titles["Write integration tests"] == "completed"
            assert tasks["summary"]["completed"] == 5
            agents = client.get(f"/api/sessions/{session['id']}/agents").json()["agents"]
            assert {a["type"] for a in agents} == {"claude", "Explore", "test-writer"}
            phases = client.get(
                "/api/events/history", params={"types": "phase:started", "limit": 10}
            ).json()["events"]
            assert [e["data"]["phase"] for e in phases] == [
                "research",
                "design",
                "implement",
                "test",
            ]
    finally:
        server.stop()


def test_replay_prints_the_transcript_and_ignores_provider_flags(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text('{"type":"a"}\nnot json\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "loki_mode.replay",
            str(transcript),
            "--exit-code",
            "3",
            "-p",
            "the prompt",
            "--output-format",
            "stream-json",
            "--verbose",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stdout) == (3, '{"type":"a"}\nnot json\n')


def test_replay_of_a_missing_file_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loki_mode.replay", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_the_demo_transcript_ships_with_the_package() -> None:
    lines = demo_transcript().read_text().splitlines()
    assert lines[0].startswith('{"type":"system"') and '"type":"result"' in lines[-1]
