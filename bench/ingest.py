"""Benchmark 4: ingest, provider pipe -> committed events.

The provider is bench/fake_provider.py (`flood`): the same claude stream-json lines as
the tests' flood fake, written in large blocks, so the server and not the fake is the
bottleneck (the fake alone is measured too). One session, one iteration, L lines.

- lines/s: L / (session startedAt -> timestamp of the last `agent:output` event), both
  stamped by the server when it commits; every line must be committed (stats delta).
- server CPU per 1k lines: psutil user+system of the server process across the run.
- the same run with one stalled subscriber on agent:output (tiny receive buffer, never
  reads): the provider must not be held back by it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    BENCH,
    Config,
    Row,
    Server,
    bench_provider_env,
    cpu_seconds,
    loki_server,
    median,
    running,
    wait_terminal,
)
from bench.load import LoadProcess

TITLE = "4 Ingest"
GOAL_RATE = 50_000
GOAL_STALL_RATIO = 0.8


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def provider_alone(lines: int, workdir: Path) -> float:
    """Lines per second of the fake provider into a pipe nobody parses."""
    env = bench_provider_env("flood", BENCH_FAKE_LINES=str(lines))
    cmd = [sys.executable, str(BENCH / "fake_provider.py"), "-p", "x"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=workdir, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    while proc.stdout.read(1 << 20):
        pass
    proc.wait(timeout=60)
    proc.stdout.close()
    return lines / (time.monotonic() - t0)


def _output_count(client: httpx.Client) -> int:
    r = client.get("/api/events/stats")
    r.raise_for_status()
    return int(r.json().get("byType", {}).get("agent:output", 0))


def ingest_once(server: Server, client: httpx.Client, lines: int) -> dict[str, Any]:
    before = _output_count(client)
    cpu0 = cpu_seconds(server.pid)
    r = client.post("/api/sessions", json={"options": {"maxIterations": 1}})
    if r.status_code != 201:
        raise RuntimeError(f"POST /api/sessions: {r.status_code} {r.text[:300]}")
    sid = r.json()["sessionId"]
    status = wait_terminal(client, sid, timeout=max(60.0, lines / 1000))
    cpu = cpu_seconds(server.pid) - cpu0
    committed = _output_count(client) - before
    started = _epoch(client.get(f"/api/sessions/{sid}").json()["session"]["startedAt"])
    last = client.get(
        "/api/events/history", params={"sessionId": sid, "types": "agent:output", "limit": 1}
    ).json()["events"]
    if status != "completed" or committed != lines or not last:
        raise RuntimeError(f"session {status}, {committed} of {lines} lines committed")
    seconds = _epoch(last[-1]["timestamp"]) - started
    client.delete(f"/api/sessions/{sid}").raise_for_status()
    return {"seconds": seconds, "cpu": cpu}


def run(cfg: Config, workdir: Path) -> list[Row]:
    lines = cfg.ingest_lines
    alone = median([provider_alone(lines, workdir) for _ in range(cfg.runs)])
    project = workdir / "ingest"
    project.mkdir()
    env = bench_provider_env("flood", BENCH_FAKE_LINES=str(lines))
    plain: list[dict[str, Any]] = []
    stalled: list[dict[str, Any]] = []
    cut_off: list[bool] = []
    with running(loki_server(workdir, project, env, "ingest")) as (server,):
        client = httpx.Client(base_url=server.url, timeout=30)
        warm = project / ".bench-fake-lines"
        warm.write_text("2000")
        ingest_once(server, client, 2000)  # warm-up: imports, caches
        warm.unlink()
        for _ in range(cfg.runs):
            plain.append(ingest_once(server, client, lines))
            args = ("--subs", "1", "--types", "agent:output", "--stall")
            with LoadProcess("idle", server.port, *args) as load:
                load.message(30)
                stalled.append(ingest_once(server, client, lines))
                cut_off.append(client.get("/api/events/stats").json()["subscribers"] == 0)
                load.release()
                load.result(30)
        client.close()
    secs = median([r["seconds"] for r in plain])
    rate = lines / secs
    cpu_per_k = median([r["cpu"] for r in plain]) / lines * 1000 * 1000
    stall_rate = lines / median([r["seconds"] for r in stalled])
    ratio = stall_rate / rate
    return [
        Row(
            TITLE,
            f"{lines:,} lines: pipe → committed event",
            f"{rate:,.0f} lines/s ({secs:.2f} s; provider alone {alone:,.0f} lines/s)",
            f"≥ {GOAL_RATE:,} lines/s",
            rate >= GOAL_RATE,
        ),
        Row(TITLE, "server CPU per 1k lines", f"{cpu_per_k:.1f} ms", "(info)", None),
        Row(
            TITLE,
            "with a stalled subscriber (never reads)",
            f"{stall_rate:,.0f} lines/s = {ratio:.2f}x without"
            f" (stalled subscriber cut off: {sum(cut_off)}/{len(cut_off)} runs)",
            f"≥ {GOAL_STALL_RATIO:g}x without",
            ratio >= GOAL_STALL_RATIO,
        ),
    ]
