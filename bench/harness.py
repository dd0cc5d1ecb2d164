"""What every benchmark shares: servers as subprocesses, fake providers, result rows.

Servers bind 127.0.0.1 on a free port, log to a file in the run's work folder, and
are always ended by the `with` block that started them (TERM, then KILL).
"""

from __future__ import annotations

import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.conftest import fake_env as tests_fake_env

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `with running(...)` still stops every server."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def raise_nofile(want: int = 65536) -> int:
    """Raise this process's soft file limit towards `want` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def fake_env(**extra: str) -> dict[str, str]:
    """The tests' fake-provider environment, with the retry and heartbeat pace of a real run."""
    return tests_fake_env(**{"LOKI_MAX_RETRIES": "2", "LOKI_HEARTBEAT_INTERVAL": "10", **extra})


def bench_provider_env(mode: str, **extra: str) -> dict[str, str]:
    """fake_env with claude replaced by bench/fake_provider.py in `mode` (flood or timed)."""
    cmd = f"{sys.executable} {BENCH / 'fake_provider.py'}"
    return fake_env(LOKI_CLAUDE_CMD=cmd, BENCH_FAKE_MODE=mode, **extra)


@dataclass
class Server:
    """One server process: the real `loki serve`, or any argv that serves HTTP on `port`."""

    name: str
    workdir: Path
    argv: list[str]
    env: dict[str, str]
    port: int
    ready_path: str = "/health/live"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}-{self.port}.log"

    def start(self, timeout: float = 30.0) -> Server:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not become ready: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def loki_server(workdir: Path, project: Path, env: dict[str, str], name: str = "loki") -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "loki_mode", "serve", "--host", HOST, "--port", str(port)]
    argv += ["--project-dir", str(project)]
    return Server(name, workdir, argv, env, port, ready_path="/health/ready")


@contextmanager
def running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    """Start the servers in order; stop every one that started, whatever happens."""
    started: list[Server] = []
    try:
        for server in servers:
            started.append(server)  # a server that never became ready is stopped too
            server.start()
        yield servers
    finally:
        for server in reversed(started):
            server.stop()


@dataclass(frozen=True, slots=True)
class ProcStats:
    rss: int
    fds: int
    threads: int
    children: int
    cpu: float  # user + system seconds of the process itself

    @classmethod
    def of(cls, pid: int) -> ProcStats:
        p = psutil.Process(pid)
        with p.oneshot():
            times = p.cpu_times()
            return cls(
                rss=p.memory_info().rss,
                fds=p.num_fds(),
                threads=p.num_threads(),
                children=len(p.children(recursive=True)),
                cpu=times.user + times.system,
            )


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def wait_until(predicate: Any, timeout: float, interval: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout} s: {what or predicate}")
        time.sleep(interval)


def session_status(client: httpx.Client, session_id: str) -> str:
    r = client.get(f"/api/sessions/{session_id}")
    r.raise_for_status()
    return str(r.json()["session"]["status"])


def wait_terminal(client: httpx.Client, session_id: str, timeout: float) -> str:
    def done() -> str | None:
        status = session_status(client, session_id)
        return status if status in ("completed", "failed", "stopped") else None

    return str(wait_until(done, timeout, 0.05, f"session {session_id} to end"))


# --- results ---------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass(slots=True)
class Row:
    """One line of the table: a measured value, its goal and whether it is met (None: info)."""

    bench: str
    metric: str
    measured: str
    goal: str = ""
    ok: bool | None = None
    error: bool = False

    @property
    def result(self) -> str:
        if self.error:
            return "ERROR"
        return "—" if self.ok is None else "PASS" if self.ok else "FAIL"


@dataclass
class Config:
    """Sizes and durations; `quick()` shrinks everything for a smoke run."""

    runs: int = 3
    duration: float = 5.0  # wrk seconds per measurement, benchmark 1
    scale_duration: float = 3.0  # wrk seconds per endpoint, benchmark 2
    connections: int = 50
    warmup: bool = True  # an unmeasured 1 s wrk run per target first
    scales: tuple[int, ...] = (1_000, 10_000, 100_000)  # tasks in the store
    events_per_task: int = 10
    sessions: int = 100
    fanout_subs: tuple[int, ...] = (100, 500)
    fanout_lines: int = 2000
    ingest_lines: int = 100_000
    memory_subs: int = 1000
    latency_samples: int = 200
    latency_lines: int = 400
    workdir: Path = field(default_factory=lambda: Path("."))

    @classmethod
    def quick(cls) -> Config:
        return cls(
            runs=1,
            duration=1.0,
            warmup=False,
            scale_duration=1.0,
            scales=(300, 1_200),
            events_per_task=2,
            sessions=20,
            fanout_subs=(20,),
            fanout_lines=200,
            ingest_lines=5_000,
            memory_subs=50,
            latency_samples=10,
            latency_lines=40,
        )


def fmt_rate(value: float) -> str:
    if value != value:  # nan
        return "n/a"
    return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.0f}"
