"""Benchmark 1: request overhead against bare apps on the same server stack.

Three servers run side by side: the real one (empty store), a bare Starlette app and
a bare ASGI callable, both on granian embedded exactly as ours (bench/bare.py). Each
run measures every (server, path) pair with `wrk -t1 -c50 -d5s` in turn; ratios are
taken within a run, then the median over runs is reported.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench import wrk
from bench.harness import (
    Config,
    Row,
    Server,
    fake_env,
    fmt_rate,
    free_port,
    loki_server,
    median,
    running,
)

TITLE = "1 Request overhead"
PATHS = ("/health/live", "/api/sessions")
GOAL_LIVE = 30_000
GOAL_RATIO = 0.9


def bare_server(kind: str, workdir: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "bench.bare", kind, "--port", str(port)]
    env = fake_env(PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return Server(f"bare-{kind}", workdir, argv, env, port)


def measure(
    cfg: Config, servers: dict[str, Server], paths: tuple[str, ...], duration: float
) -> dict[tuple[str, str], list[float]]:
    """Rates per (server, path), one wrk run each per round; any non-2xx is an error."""
    for server in servers.values() if cfg.warmup else ():
        for path in paths:
            wrk.run(server.url + path, duration=1, connections=cfg.connections)
    rates: dict[tuple[str, str], list[float]] = {}
    for _ in range(cfg.runs):
        for name, server in servers.items():
            for path in paths:
                res = wrk.run(server.url + path, duration=duration, connections=cfg.connections)
                if not res.clean:
                    raise wrk.WrkError(
                        f"{name} {path}: {res.non_2xx} non-2xx, {res.socket_errors} socket errors"
                    )
                rates.setdefault((name, path), []).append(res.rate)
    return rates


def run(cfg: Config, workdir: Path) -> list[Row]:
    project = workdir / "overhead"
    project.mkdir()
    servers = {
        "loki": loki_server(workdir, project, fake_env(), "overhead"),
        "starlette": bare_server("starlette", workdir),
        "asgi": bare_server("asgi", workdir),
    }
    with running(*servers.values()):
        rates = measure(cfg, servers, PATHS, cfg.duration)
    rows: list[Row] = []
    for path in PATHS:
        ours = rates[("loki", path)]
        rate = median(ours)
        graded = path == "/health/live"
        rows.append(
            Row(
                TITLE,
                f"GET {path} req/s (50 conns)",
                fmt_rate(rate),
                f"≥ {fmt_rate(GOAL_LIVE)}" if graded else "(info)",
                rate >= GOAL_LIVE if graded else None,
            )
        )
        for bare, goal in (("starlette", GOAL_RATIO), ("asgi", None)):
            theirs = rates[(bare, path)]
            ratio = median([a / b for a, b in zip(ours, theirs, strict=True)])
            label = "bare Starlette on granian" if bare == "starlette" else "bare ASGI on granian"
            rows.append(
                Row(
                    TITLE,
                    f"GET {path} vs {label}",
                    f"{ratio:.2f}x ({fmt_rate(rate)} vs {fmt_rate(median(theirs))})",
                    f"≥ {goal:g}x" if goal else "(info)",
                    ratio >= goal if goal else None,
                )
            )
    return rows
