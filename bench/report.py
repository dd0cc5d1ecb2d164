"""The one table (rich on the terminal, Markdown in docs/benchmarks.md) and machine facts."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from bench import wrk
from bench.harness import Config, Row

STYLE = {"PASS": "green", "FAIL": "red", "ERROR": "bold red", "—": "dim"}


def _version(name: str) -> str:
    try:
        return package_version(name)
    except PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_figures(facts: dict[str, str]) -> list[str]:
    return [
        x.strip() for k, v in facts.items() if k.startswith("Load average") for x in v.split("→")
    ] or ["0"]


def load_average() -> str:
    """Other work on the machine skews every number; the report says how busy it was."""
    return f"{os.getloadavg()[0]:.2f}"


def machine_facts() -> dict[str, str]:
    return {
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": _cpu_model(),
        "Cores": str(os.cpu_count()),
        "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "granian": _version("granian"),
        "starlette": _version("starlette"),
        "msgspec": _version("msgspec"),
        "loki-mode": _version("loki-mode"),
        "wrk": wrk.version(),
    }


def table(rows: Sequence[Row], title: str) -> Table:
    t = Table(title=title, show_lines=False)
    t.add_column("Benchmark", style="bold", no_wrap=True)
    t.add_column("Metric")
    t.add_column("Measured")
    t.add_column("Goal", no_wrap=True)
    t.add_column("Result", no_wrap=True)
    last = ""
    for row in rows:
        bench = row.bench if row.bench != last else ""
        last = row.bench
        result = row.result
        t.add_row(bench, row.metric, row.measured, row.goal, f"[{STYLE[result]}]{result}[/]")
    return t


def print_table(rows: Sequence[Row], title: str, console: Console | None = None) -> None:
    (console or Console()).print(table(rows, title))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rows: Sequence[Row], facts: dict[str, str], cfg: Config, command: str) -> str:
    passed = sum(1 for r in rows if r.result == "PASS")
    graded = sum(1 for r in rows if r.result in ("PASS", "FAIL", "ERROR"))
    out = [
        "# Benchmarks",
        "",
        "Written by `python -m bench` (issue #6); do not edit by hand: run it again.",
        "Medians of several runs; ratios are taken between numbers measured in the same run.",
        "The harness measures and never asserts a time: a FAIL row is a goal not yet met.",
        "",
        f"Run: `{command}` — {cfg.runs} run(s) per number; {passed} of {graded} graded rows pass.",
        "",
        "| Benchmark | Metric | Measured | Goal | Result |",
        "| --- | --- | --- | --- | --- |",
    ]
    last = ""
    for row in rows:
        bench = row.bench if row.bench != last else ""
        last = row.bench
        result = row.result if row.ok is None and not row.error else f"**{row.result}**"
        cells = (bench, row.metric, row.measured, row.goal, result)
        out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    out += ["", "## Machine", "", "| | |", "| --- | --- |"]
    out += [f"| {k} | {_cell(v)} |" for k, v in facts.items()]
    busiest = max(float(v) for v in load_figures(facts))
    if busiest > (os.cpu_count() or 1) / 2:
        out += [
            "",
            f"The machine was busy with other work during this run (load average up to"
            f" {busiest:.1f} on {os.cpu_count()} cores): rates are lower and noisier than on a"
            " quiet machine. Ratios measured in the same rounds suffer least.",
        ]
    out += ["", HOW.strip(), ""]
    return "\n".join(out)


HOW = """
## How each number is taken

Every benchmark starts the real server, `python -m loki_mode serve --host 127.0.0.1
--port P --project-dir D`, as a subprocess with its providers pointed at fake CLIs, and
loads it from other processes: `wrk -t1 -c50` for plain requests, and `python -m
bench.load` (raw asyncio sockets, a hand-written SSE reader) for streams. Every
request loop is bounded in count and time and targets 127.0.0.1 only.

1. **Request overhead**: `GET /health/live` and `GET /api/sessions` (empty store),
   `wrk -t1 -c50 -d5s`, against our server and, in the same rounds, a bare Starlette
   app and a bare ASGI callable, both on granian embedded exactly as ours
   (`bench/bare.py`), answering the same JSON bodies.
2. **Data at scale**: a store seeded through `SQLiteStore`/`StoreTx` with 100 sessions
   and 1k, 10k and 100k tasks (10 events per task: 10k, 100k, 1M events); one probe
   session holds the same 100 tasks and 1,000 events at every scale. Each endpoint's
   rate is compared with `/health/live` on the same server in the same rounds, and
   between the smallest and the largest scale (flat = within 20%).
3. **SSE fan-out**: 100 and 500 subscribers on `/api/events?types=agent:output`; the
   claude fake (`flood`, FAKE_LINES=2000) prints as fast as it can. Time from the first
   `agent:output` arriving on any subscriber to the last line arriving on the last one;
   every subscriber must get `line 0`..`line 1999` in order with rising ids.
4. **Ingest**: `bench/fake_provider.py` prints 100k claude stream-json lines in large
   blocks (the tests' fake flushes each line and tops out near 30k lines/s). Rate =
   lines / (session `startedAt` -> timestamp of its last `agent:output`), both stamped
   by the server; server CPU is psutil user+system across the run. Repeated with one
   subscriber that never reads (4 KiB receive buffer).
5. **Memory**: server RSS (psutil) with no subscriber and with 1,000 idle subscribers
   on `/api/events`, a fresh server per run.
6. **Latency**: light load; `POST /api/sessions` (dry run) -> its `session:started`
   on an open subscriber, and a provider line's own print time -> its arrival
   (`bench/fake_provider.py`, `timed`, one line per 10 ms).
7. **Soak** (`make soak`, not in this table): `python -m bench.soak [--seconds N]`.

## Reproduce

```sh
make bench                                # all six, 3 runs each, rewrites this file
.venv/bin/python -m bench --only 3,4 --runs 5
.venv/bin/python -m bench --quick --no-write   # smoke run, tiny sizes
make soak                                 # 5 minutes; or: .venv/bin/python -m bench.soak --seconds 60
```

`wrk` comes from Debian (`apt-get install wrk`); py-spy or pyinstrument attach to the
server's pid for profiles (`py-spy record -p PID`).
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
