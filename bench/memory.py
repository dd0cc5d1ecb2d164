"""Benchmark 5: server memory with idle SSE subscribers.

Per run, a fresh server: a warm-up of 10 subscribers (connected, then gone), RSS with
none, then N idle subscribers on `/api/events` (raw sockets from the load process,
which raises its own RLIMIT_NOFILE) and RSS once the server counts all of them.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from bench.harness import (
    Config,
    Row,
    Server,
    fake_env,
    loki_server,
    median,
    raise_nofile,
    rss,
    running,
    wait_until,
)
from bench.load import LoadProcess

TITLE = "5 Memory"
GOAL_SUBS = 1000
GOAL_PER_SUB_KIB = 20
GOAL_TOTAL_MIB = 150
MIB = 1024 * 1024


def _subscribers(client: httpx.Client) -> int:
    return int(client.get("/api/events/stats").json()["subscribers"])


def _idle(server: Server, client: httpx.Client, subs: int, settle: float) -> int:
    """Connect `subs` idle subscribers, return the server's RSS with them, disconnect."""
    with LoadProcess("idle", server.port, "--subs", str(subs)) as load:
        load.message(120)
        wait_until(lambda: _subscribers(client) == subs, 30, 0.1, f"{subs} subscribers")
        time.sleep(settle)
        pid_rss = rss(server.pid)
        load.release()
        load.result(60)
    wait_until(lambda: _subscribers(client) == 0, 30, 0.1, "subscribers to leave")
    return pid_rss


def run(cfg: Config, workdir: Path) -> list[Row]:
    raise_nofile(cfg.memory_subs * 2 + 256)  # the server inherits it
    n = cfg.memory_subs
    before: list[int] = []
    after: list[int] = []
    for i in range(cfg.runs):
        project = workdir / f"memory-{i}"
        project.mkdir()
        with running(loki_server(workdir, project, fake_env(), f"memory-{i}")) as (server,):
            client = httpx.Client(base_url=server.url, timeout=10)
            _idle(server, client, 10, 0.2)  # warm-up
            time.sleep(1.0)
            before.append(rss(server.pid))
            after.append(_idle(server, client, n, 1.0))
            client.close()
    base, loaded = median(before), median(after)
    per_sub = median([(a - b) / n / 1024 for a, b in zip(after, before, strict=True)])
    graded = n == GOAL_SUBS
    return [
        Row(TITLE, "server RSS, no subscribers", f"{base / MIB:.1f} MiB", "(info)", None),
        Row(
            TITLE,
            f"server RSS, {n:,} idle subscribers",
            f"{loaded / MIB:.1f} MiB",
            f"≤ {GOAL_TOTAL_MIB} MiB" if graded else f"(goal at {GOAL_SUBS:,})",
            loaded / MIB <= GOAL_TOTAL_MIB if graded else None,
        ),
        Row(
            TITLE,
            "RSS per idle subscriber",
            f"{per_sub:.1f} KiB",
            f"≤ {GOAL_PER_SUB_KIB} KiB",
            per_sub <= GOAL_PER_SUB_KIB,
        ),
    ]
