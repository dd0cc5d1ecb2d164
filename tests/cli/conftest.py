"""A real `loki serve` on a free port in a temporary project, with the fake provider CLIs.

`server` (one per module) yields the base URL; `project` is its project folder,
where a test picks the fake's scenario with `.fake-scenario`. `server_factory`
starts extra servers a test controls itself (e.g. to restart one). Every server
is terminated and waited for; sessions still active are stopped first so no
provider process outlives the test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from loki_mode.client import LokiClient
from loki_mode.types import ACTIVE_STATUSES

ROOT = Path(__file__).resolve().parents[2]
FAKES = ROOT / "tests" / "fakes"
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOKI_", "FAKE_"))}
    for name in ("claude", "codex", "gemini"):
        env[f"LOKI_{name.upper()}_CMD"] = f"{sys.executable} {FAKES / f'fake_{name}.py'}"
    env.update(
        LOKI_MAX_ITERATIONS="3",
        LOKI_MAX_RETRIES="1",
        LOKI_BASE_WAIT="0.05",
        LOKI_MAX_WAIT="0.1",
        LOKI_STOP_GRACE="1",
        LOKI_HEARTBEAT_INTERVAL="1",
        LOKI_COMPLETION_PROMISE="ALL TASKS DONE",
    )
    return env


class ServerProcess:
    """One `python -m loki_mode serve` child; `restart()` keeps its port and project (store)."""

    def __init__(self, project: Path, port: int | None = None) -> None:
        self.project = project
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = project.parent / f"{project.name}-server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "loki_mode", "serve", "--port", str(self.port)]
        argv += ["--project-dir", str(self.project)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.project,
                env=server_env(self.project),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"loki serve exited {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"loki serve did not come up in {START_TIMEOUT}s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop_sessions(self) -> None:
        try:
            with LokiClient(base_url=self.url, use_env=False, timeout=5) as client:
                active = [
                    s.id for s in client.list_sessions().sessions if s.status in ACTIVE_STATUSES
                ]
                for sid in active:
                    client.stop_session(sid)
                deadline = time.monotonic() + 15
                while active and time.monotonic() < deadline:
                    time.sleep(0.1)
                    statuses = {s.id: s.status for s in client.list_sessions().sessions}
                    active = [sid for sid in active if statuses.get(sid) in ACTIVE_STATUSES]
        except Exception:  # best effort: the server may already be gone
            pass

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.stop_sessions()
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        finally:
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    """Base URL of a real server for this module's tests."""
    proc = ServerProcess(project)
    try:
        proc.start()
        yield proc.url
    finally:
        proc.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[[], ServerProcess]]:
    """Start servers the test owns (each in its own project); all stopped at the end."""
    started: list[ServerProcess] = []

    def make() -> ServerProcess:
        folder = tmp_path / f"project{len(started)}"
        folder.mkdir()
        proc = ServerProcess(folder)
        started.append(proc)
        proc.start()
        return proc

    try:
        yield make
    finally:
        for proc in started:
            proc.stop()
