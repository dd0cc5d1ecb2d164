"""Benchmark 2: the read endpoints with data at scale.

For each scale (tasks; events = tasks x events_per_task) a fresh store is seeded
through the store's own API (bench/seed.py), then a server opens it and wrk measures
every endpoint plus `/health/live` on that same server, in the same rounds. The
probe session is identical at every scale, so a rate that falls as the scale grows
is an endpoint paying for data it does not return.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from bench.harness import Config, Row, fake_env, fmt_rate, loki_server, median, running
from bench.overhead import measure
from bench.seed import STATUSES, seed

TITLE = "2 Data at scale"
LIVE = "/health/live"
GOAL_RATIO = 0.5
GOAL_FLAT = 0.8  # largest-scale rate within 20% of the smallest
MAIN_SCALE = 10_000
OFFSET = 5000

ENDPOINTS = (
    ("GET /api/tasks?limit=100", "/api/tasks?limit=100"),
    (
        f"GET /api/tasks?status=completed&limit=100&offset={OFFSET}",
        f"/api/tasks?status=completed&limit=100&offset={OFFSET}",
    ),
    (
        "GET /api/sessions/{id}/tasks?status=running&limit=20",
        "/api/sessions/{probe}/tasks?status=running&limit=20",
    ),
    ("GET /api/sessions", "/api/sessions"),
    ("GET /api/sessions/{id}", "/api/sessions/{probe}"),
    (
        "GET /api/events/history?sessionId=…&limit=100",
        "/api/events/history?sessionId={probe}&limit=100",
    ),
)


def _applies(label: str, tasks: int) -> bool:
    """The offset page only returns a full page once enough tasks are completed."""
    if "offset=" in label:
        return tasks * STATUSES.count("completed") // len(STATUSES) >= OFFSET + 100
    return True


def _check(url: str, paths: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for path in paths:
            r = client.get(path)
            if r.status_code != 200:
                raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:200]}")


def run(cfg: Config, workdir: Path) -> list[Row]:
    # per scale: label -> (median rate, median ratio to /health/live)
    results: dict[int, dict[str, tuple[float, float]]] = {}
    live_rates: dict[int, float] = {}
    for tasks in cfg.scales:
        project = workdir / f"scale-{tasks}"
        project.mkdir()
        seeded = seed(
            project / ".loki" / "loki.db",
            tasks=tasks,
            events_per_task=cfg.events_per_task,
            sessions=cfg.sessions,
            project=project,
        )
        paths = tuple(p.format(probe=seeded.probe) for _, p in ENDPOINTS)
        with running(loki_server(workdir, project, fake_env(), f"scale-{tasks}")) as (server,):
            _check(server.url, [LIVE, *paths])
            rates = measure(cfg, {"loki": server}, (LIVE, *paths), cfg.scale_duration)
        live = rates[("loki", LIVE)]
        live_rates[tasks] = median(live)
        results[tasks] = {
            label: (
                median(rates[("loki", path)]),
                median([a / b for a, b in zip(rates[("loki", path)], live, strict=True)]),
            )
            for (label, _), path in zip(ENDPOINTS, paths, strict=True)
        }
    main = MAIN_SCALE if MAIN_SCALE in results else max(results)
    rows: list[Row] = []
    for label, _ in ENDPOINTS:
        rate, ratio = results[main][label]
        rows.append(
            Row(
                TITLE,
                f"{label} @ {main:,} tasks",
                f"{fmt_rate(rate)} req/s = {ratio:.2f}x /health/live ({fmt_rate(live_rates[main])})",
                f"≥ {GOAL_RATIO:g}x",
                ratio >= GOAL_RATIO,
            )
        )
        rows.append(_flatness(label, {t: r[label][0] for t, r in results.items()}))
    return rows


def _k(tasks: int) -> str:
    return f"{tasks / 1000:g}k"


def _flatness(label: str, rates: dict[int, float]) -> Row:
    shown = ", ".join(f"{_k(t)}: {fmt_rate(r)}" for t, r in sorted(rates.items()))
    usable = sorted(t for t in rates if _applies(label, t))
    if len(usable) < 2:
        return Row(TITLE, f"{label}: flat", f"{shown} (too few scales)", f"≥ {GOAL_FLAT:g}x", None)
    low, high = usable[0], usable[-1]
    flat = rates[high] / rates[low]
    note = "" if low == min(rates) else f"; {_k(low)} is the first with a full page"
    return Row(
        TITLE,
        f"{label}: flat {_k(low)} → {_k(high)} tasks",
        f"{flat:.2f}x ({shown}{note})",
        f"≥ {GOAL_FLAT:g}x",
        flat >= GOAL_FLAT,
    )
