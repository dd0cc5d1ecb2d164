"""Shared fixtures: a real `loki serve` process on a free port, and fake provider CLIs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
FAKES = ROOT / "tests" / "fakes"
FIXTURES = ROOT / "tests" / "fixtures" / "real"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fake_env(**extra: str) -> dict[str, str]:
    """Environment that points every provider at its fake CLI, with fast retries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOKI_", "FAKE_"))}
    env.update(
        {
            "LOKI_CLAUDE_CMD": f"{sys.executable} {FAKES / 'fake_claude.py'}",
            "LOKI_CODEX_CMD": f"{sys.executable} {FAKES / 'fake_codex.py'}",
            "LOKI_GEMINI_CMD": f"{sys.executable} {FAKES / 'fake_gemini.py'}",
            "LOKI_BASE_WAIT": "0.2",
            "LOKI_MAX_WAIT": "2",
            "LOKI_RATE_LIMIT_MARGIN": "0.1",
            "LOKI_STOP_GRACE": "1",
            "LOKI_HEARTBEAT_INTERVAL": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class LiveServer:
    """A `loki serve` subprocess; `restart()` and `kill()` keep the same port and project."""

    project: Path
    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)  # type: ignore[arg-type]

    def start(self) -> LiveServer:
        cmd = [
            sys.executable,
            "-m",
            "loki_mode",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--project-dir",
            str(self.project),
            *self.args,
        ]
        with (self.project.parent / f"server-{self.port}.log").open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not become ready: {self.log()}")

    def log(self) -> str:
        path = self.project.parent / f"server-{self.port}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def server(project: Path) -> Iterator[LiveServer]:
    """A fresh server with fake providers, in its own project folder."""
    live = LiveServer(project, fake_env()).start()
    try:
        yield live
    finally:
        live.stop()


def alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie (exited, not yet reaped) or a gone process does not."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
