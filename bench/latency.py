"""Benchmark 6: latency at light load, p50/p99, measured by the load process.

- start: POST /api/sessions (dry run) sent -> its `session:started` arrives on an
  open subscriber; one session at a time, each waited to its end; 3 warm-up
  sessions first are not counted.
- line: bench/fake_provider.py (`timed`) prints a line every 10 ms carrying its own
  wall-clock time; the subscriber subtracts it from the arrival time (same machine,
  same clock). The first 5 lines (process start-up) are left out.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from bench.harness import (
    Config,
    Row,
    bench_provider_env,
    fake_env,
    loki_server,
    percentile,
    running,
    wait_until,
)
from bench.load import LoadProcess

TITLE = "6 Latency"
GOAL_P99_MS = 50.0
SKIP_LINES = 5


def _row(label: str, samples: list[float]) -> Row:
    p50, p99 = percentile(samples, 50) * 1000, percentile(samples, 99) * 1000
    return Row(
        TITLE,
        f"{label}, p50 / p99 ({len(samples)} samples)",
        f"{p50:.1f} / {p99:.1f} ms",
        f"p99 ≤ {GOAL_P99_MS:g} ms",
        p99 <= GOAL_P99_MS,
    )


def run(cfg: Config, workdir: Path) -> list[Row]:
    start: list[float] = []
    line: list[float] = []
    project = workdir / "latency-start"
    project.mkdir()
    with running(loki_server(workdir, project, fake_env(), "latency-start")) as (server,):
        for _ in range(cfg.runs):
            args = ("--samples", str(cfg.latency_samples))
            with LoadProcess("latency-start", server.port, *args) as load:
                start += load.result(max(60.0, cfg.latency_samples * 1.0))["samples"]
    project = workdir / "latency-line"
    project.mkdir()
    lines = cfg.latency_lines + SKIP_LINES
    env = bench_provider_env("timed", BENCH_FAKE_LINES=str(lines))
    with running(loki_server(workdir, project, env, "latency-line")) as (server,):
        for _ in range(cfg.runs):
            with LoadProcess("latency-line", server.port, "--lines", str(lines)) as load:
                samples = load.result(max(60.0, lines * 0.1))["samples"]
            if len(samples) != lines:
                raise RuntimeError(f"{len(samples)} of {lines} timed lines arrived")
            line += samples[SKIP_LINES:]
            _wait_idle(server.url)
    return [
        _row("POST /api/sessions → session:started", start),
        _row("provider line printed → event", line),
    ]


def _wait_idle(url: str) -> None:
    """The next session in this project may only start once the last one has ended."""

    def idle() -> bool:
        sessions = httpx.get(url + "/api/sessions", timeout=10).json()["sessions"]
        return all(s["status"] in ("completed", "failed", "stopped") for s in sessions)

    wait_until(idle, 30, 0.05, "sessions to end")
