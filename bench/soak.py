"""Benchmark 7, `make soak`: `python -m bench.soak [--seconds N]` (default 300).

One real server; for the whole time, in parallel:
- workers, one per project folder, each in a loop: start a session (a scenario
  from the claude fake: success, flood, crash with retries, hang then stop, dry
  run), wait for its end, delete it;
- SSE subscribers that connect with assorted filters, read for a moment and drop
  (half close cleanly, half with a reset);
- a reader polling the list, task, status and health endpoints.
The server's file descriptors, threads, child processes and RSS are taken after a
warm-up (the first 10% of the time, 5-30 s; half of a run shorter than 10 s) and at the end, each time once the
load has stopped and the server is idle. Fails (exit 1) when any of them grew by
more than 5%, any response was a 5xx, a session did not end in time, or the server
kept subscribers, sessions or children after the load stopped; exit 2 means the
harness itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from bench import sse
from bench.harness import ProcStats, exit_on_sigterm, fake_env, loki_server, raise_nofile, running

TOLERANCE = 0.05
TERMINAL = ("completed", "failed", "stopped")
SCENARIOS = ("success", "flood", "hang", "crash", "dry")
STREAMS = (
    "/api/events",
    "/api/events?types=agent:output",
    "/api/events?types=session:*,task:*",
    "/api/events?minLevel=warn",
    "/api/events?history=50",
    "/api/events?types=log:*&history=20",
)
READS = ("/api/sessions", "/api/tasks?limit=50", "/api/status", "/health", "/api/events/stats")


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    cycles: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    streams: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, r: httpx.Response, *expected: int) -> httpx.Response:
        self.statuses[r.status_code] += 1
        if r.status_code >= 500:
            self.fail(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:200]}")
        elif expected and r.status_code not in expected:
            raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code}")
        return r

    def fail(self, message: str) -> None:
        if len(self.failures) < 50:
            self.failures.append(message)


class Load:
    def __init__(self, port: int, projects: list[Path], streams: int) -> None:
        self.port = port
        self.projects = projects
        self.stream_count = streams
        self.tally = Tally()
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)

    async def run_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        tasks = [self._worker(i, p, deadline) for i, p in enumerate(self.projects)]
        tasks += [self._churn(deadline) for _ in range(self.stream_count)]
        tasks.append(self._reader(deadline))
        await asyncio.gather(*tasks)

    async def _status(self, sid: str) -> dict[str, Any]:
        r = self.tally.check(await self.client.get(f"/api/sessions/{sid}"), 200)
        session: dict[str, Any] = r.json()["session"]
        return session

    async def _until(self, sid: str, done: Any, timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while True:
            session = await self._status(sid)
            if done(session):
                return session
            if time.monotonic() > end:
                raise TimeoutError(f"session {sid} stuck in {session['status']}")
            await asyncio.sleep(0.05)

    async def _worker(self, index: int, project: Path, deadline: float) -> None:
        cycle = index
        while time.monotonic() < deadline:
            kind = SCENARIOS[cycle % len(SCENARIOS)]
            cycle += 1
            try:
                await self._cycle(kind, project)
            except (TimeoutError, RuntimeError, httpx.HTTPError) as exc:
                self.tally.fail(f"{kind} cycle in {project.name}: {type(exc).__name__}: {exc}")
                await asyncio.sleep(0.5)

    async def _cycle(self, kind: str, project: Path) -> None:
        t = self.tally
        (project / ".fake-scenario").write_text("success" if kind == "dry" else kind)
        options: dict[str, Any] = {"maxIterations": 3 if kind == "crash" else 1}
        if kind == "dry":
            options["dryRun"] = True
        body = {"projectDir": str(project), "options": options}
        r = t.check(await self.client.post("/api/sessions", json=body), 201)
        sid = r.json()["sessionId"]
        if kind == "hang":
            await self._until(sid, lambda s: s["pid"] is not None, 30)
            t.check(await self.client.post(f"/api/sessions/{sid}/stop"), 200)
        session = await self._until(sid, lambda s: s["status"] in TERMINAL, 60)
        t.outcomes[f"{kind} → {session['status']}"] += 1
        t.check(await self.client.delete(f"/api/sessions/{sid}"), 200)
        t.check(await self.client.get(f"/api/sessions/{sid}"), 404)
        t.cycles[kind] += 1

    async def _churn(self, deadline: float) -> None:
        rng = random.Random()
        while time.monotonic() < deadline:
            path = rng.choice(STREAMS)
            try:
                stream = await sse.connect(self.port, path)
            except sse.StreamError as exc:
                if exc.status is not None:
                    self.tally.statuses[exc.status] += 1
                if exc.status is None or exc.status >= 500:
                    self.tally.fail(str(exc))
                await asyncio.sleep(0.1)
                continue
            except OSError as exc:
                self.tally.fail(f"connect {path}: {exc}")
                await asyncio.sleep(0.1)
                continue
            self.tally.statuses[200] += 1
            self.tally.streams += 1
            with contextlib.suppress(TimeoutError, OSError):
                await asyncio.wait_for(_drain(stream), rng.uniform(0.1, 2.0))
            stream.close(abort=rng.random() < 0.5)

    async def _reader(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            for path in READS:
                with contextlib.suppress(httpx.HTTPError):
                    self.tally.check(await self.client.get(path))
            await asyncio.sleep(0.05)

    async def quiesce(self, pid: int, timeout: float = 60) -> None:
        """Wait for no session, no subscriber and no child process; then a moment more."""
        end = time.monotonic() + timeout
        while True:
            sessions = (await self.client.get("/api/sessions")).json()["sessions"]
            subs = (await self.client.get("/api/events/stats")).json()["subscribers"]
            children = psutil.Process(pid).children(recursive=True)
            if not sessions and subs == 0 and not children:
                await asyncio.sleep(1.0)
                return
            if time.monotonic() > end:
                break
            await asyncio.sleep(0.2)
        left = [f"{s['id']} {s['status']}" for s in sessions]
        self.tally.fail(
            f"not idle {timeout:g} s after the load stopped: sessions {left},"
            f" {subs} subscribers, children {[c.pid for c in children]}"
        )


async def _drain(stream: sse.Stream) -> None:
    while await stream.read() is not None:
        pass


def _grew(start: float, end: float) -> bool:
    return end > start * (1 + TOLERANCE)


async def soak(
    pid: int, port: int, projects: list[Path], args: argparse.Namespace
) -> tuple[ProcStats, ProcStats, Tally]:
    load = Load(port, projects, args.subscribers)
    warm = min(max(args.seconds * 0.1, min(5.0, args.seconds / 2)), 30.0)
    try:
        await load.run_for(warm)
        await load.quiesce(pid, args.settle_timeout)
        start = ProcStats.of(pid)
        await load.run_for(max(args.seconds - warm, 1.0))
        await load.quiesce(pid, args.settle_timeout)
        end = ProcStats.of(pid)
    finally:
        await load.client.aclose()
    return start, end, load.tally


def report(start: ProcStats, end: ProcStats, tally: Tally, console: Console) -> bool:
    table = Table(title="soak: server resources after warm-up and at the end (idle)")
    for col in ("", "start", "end", "change", "limit", "result"):
        table.add_column(col)
    ok = True
    mib = 1024 * 1024
    checks = [
        ("file descriptors", start.fds, end.fds, str),
        ("threads", start.threads, end.threads, str),
        ("child processes", start.children, end.children, str),
        ("RSS", start.rss, end.rss, lambda v: f"{v / mib:.1f} MiB"),
    ]
    for name, a, b, fmt in checks:
        bad = _grew(a, b)
        ok &= not bad
        change = f"{(b - a) / a:+.1%}" if a else f"{b - a:+d}"
        verdict = "[red]FAIL[/]" if bad else "[green]PASS[/]"
        table.add_row(name, fmt(a), fmt(b), change, f"≤ +{TOLERANCE:.0%}", verdict)
    fives = sum(n for code, n in tally.statuses.items() if code >= 500)
    ok &= fives == 0 and not tally.failures
    console.print(table)
    console.print(f"cycles: {dict(tally.cycles)}")
    console.print(f"outcomes: {dict(tally.outcomes)}")
    console.print(
        f"SSE connections: {tally.streams}; HTTP statuses: {dict(sorted(tally.statuses.items()))}"
    )
    console.print(f"5xx responses: {fives}")
    for failure in tally.failures:
        console.print(f"[red]failure:[/] {failure}")
    console.print("[green]soak passed[/]" if ok else "[red]soak failed[/]")
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    p.add_argument("--seconds", type=float, default=300.0, help="how long to run [300]")
    p.add_argument("--workers", type=int, default=4, help="projects with a session loop each [4]")
    p.add_argument("--subscribers", type=int, default=20, help="SSE clients churning at once [20]")
    p.add_argument("--settle-timeout", type=float, default=60.0,
                   help="how long the server may take to become idle after the load [60]")  # fmt: skip
    p.add_argument("--keep", action="store_true", help="keep the work folder (server log, store)")
    args = p.parse_args(argv)
    exit_on_sigterm()
    console = Console(width=None if sys.stdout.isatty() else 160)
    raise_nofile()
    workdir = Path(tempfile.mkdtemp(prefix="loki-soak-"))
    try:
        root = workdir / "projects"
        projects = [root / f"p{i}" for i in range(max(1, args.workers))]
        for project in projects:
            project.mkdir(parents=True)
        env = fake_env(FAKE_LINES="200", LOKI_SSE_KEEPALIVE="1", LOKI_HEARTBEAT_INTERVAL="1")
        server = loki_server(workdir, root, env, "soak")
        with running(server):
            console.print(f"soak: {args.seconds:g} s against {server.url}, {len(projects)} workers")
            start, end, tally = asyncio.run(soak(server.pid, server.port, projects, args))
        ok = report(start, end, tally, console)
    except Exception as exc:  # the harness itself broke: not a verdict on the server
        console.print(f"[bold red]soak could not run:[/] {type(exc).__name__}: {exc}")
        return 2
    finally:
        if args.keep:
            console.print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
