"""Benchmark 3: SSE fan-out of one flooding provider to many subscribers.

N subscribers on `/api/events?types=agent:output` (raw sockets, one load process);
the claude fake (tests/fakes, `flood`, FAKE_LINES) prints its lines as fast as it
can. Measured on the load process's clock: first `agent:output` to arrive on any
subscriber -> the last line arriving on the last subscriber. Every subscriber must
see `line 0` .. `line L-1` once each, in order, with rising event ids.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from bench.harness import Config, Row, fake_env, loki_server, median, running, wait_terminal
from bench.load import LoadProcess

TITLE = "3 SSE fan-out"
GOAL_SUBS, GOAL_LINES, GOAL_SECONDS = 500, 2000, 2.0


def run(cfg: Config, workdir: Path) -> list[Row]:
    project = workdir / "fanout"
    project.mkdir()
    env = fake_env(FAKE_SCENARIO="flood", FAKE_LINES=str(cfg.fanout_lines))
    rows: list[Row] = []
    with running(loki_server(workdir, project, env, "fanout")) as (server,):
        client = httpx.Client(base_url=server.url, timeout=10)
        for subs in cfg.fanout_subs:
            results = []
            for _ in range(cfg.runs):
                args = ("--subs", str(subs), "--lines", str(cfg.fanout_lines), "--timeout", "60")
                with LoadProcess("fanout", server.port, *args) as load:
                    load.message(60)  # ready: every subscriber is registered
                    result = load.result(120)
                wait_terminal(client, result["session"], 60)
                results.append(result)
            rows += _rows(subs, cfg.fanout_lines, results)
        client.close()
    return rows


def _rows(subs: int, lines: int, results: list[dict[str, object]]) -> list[Row]:
    span = median([float(r["span"]) for r in results])  # type: ignore[arg-type]
    rate = subs * lines / span if span > 0 else float("nan")
    cpu = median([float(r["client_cpu"]) for r in results])  # type: ignore[arg-type]
    graded = subs == GOAL_SUBS and lines == GOAL_LINES
    label = f"{subs} subs x {lines:,} lines: first line → last event"
    rows = [
        Row(
            TITLE,
            label,
            f"{span:.2f} s ({rate / 1e3:,.0f}k deliveries/s; client CPU {cpu:.1f} s)",
            f"≤ {GOAL_SECONDS:g} s" if graded else f"(goal at {GOAL_SUBS} x {GOAL_LINES:,})",
            span <= GOAL_SECONDS if graded else None,
        )
    ]
    complete = [int(r["complete"]) for r in results]  # type: ignore[call-overload]
    faults = [
        f"{k} {sum(int(r[k]) for r in results)}"  # type: ignore[call-overload]
        for k in ("lost", "disorder", "backwards", "extra_frames", "timed_out")
        if sum(int(r[k]) for r in results)  # type: ignore[call-overload]
    ]
    ok = all(c == subs for c in complete) and not faults
    measured = (
        f"{min(complete)}/{subs} subscribers complete and in order in all {len(results)} runs"
    )
    if faults:
        measured += " — " + ", ".join(faults)
    rows.append(Row(TITLE, f"{subs} subs: no event lost or reordered", measured, "all", ok))
    return rows
