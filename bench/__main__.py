"""`python -m bench`: run benchmarks 1-6, print one table, write docs/benchmarks.md.

Exit status: 0 when every selected benchmark ran (goals met or not), 1 when one of
them could not run (a harness error), and with --strict also when a goal is missed.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from rich.console import Console

from bench import fanout, ingest, latency, memory, overhead, report, scale
from bench.harness import ROOT, Config, Row, exit_on_sigterm

BENCHMARKS: dict[str, ModuleType] = {
    "1": overhead,
    "2": scale,
    "3": fanout,
    "4": ingest,
    "5": memory,
    "6": latency,
}
NAMES = {mod.__name__.rsplit(".", 1)[1]: key for key, mod in BENCHMARKS.items()}
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"


def _selection(raw: str) -> list[str]:
    chosen: list[str] = []
    for item in raw.split(","):
        key = NAMES.get(item.strip(), item.strip())
        if key not in BENCHMARKS:
            raise argparse.ArgumentTypeError(
                f"unknown benchmark {item!r}: pick from 1-6 or {', '.join(NAMES)}"
            )
        chosen.append(key)
    return sorted(set(chosen))


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--only", type=_selection, default=sorted(BENCHMARKS), metavar="LIST",
                   help="benchmarks to run, by number or name: 1,3 or overhead,fanout")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="tiny sizes and one short run (smoke)")
    p.add_argument("--runs", type=int, help="runs per number; the median is reported [3]")
    p.add_argument("--duration", type=float, help="wrk seconds per measurement, bench 1 [5]")
    p.add_argument("--scale-duration", type=float, help="wrk seconds per endpoint, bench 2 [3]")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown report path")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs, stores)")
    return p.parse_args(argv)


def config(args: argparse.Namespace, workdir: Path) -> Config:
    cfg = Config.quick() if args.quick else Config()
    if args.runs is not None:
        cfg.runs = max(1, args.runs)
    if args.duration is not None:
        cfg.duration = args.duration
    if args.scale_duration is not None:
        cfg.scale_duration = args.scale_duration
    cfg.workdir = workdir
    return cfg


def run(keys: list[str], cfg: Config, console: Console) -> list[Row]:
    rows: list[Row] = []
    for key in keys:
        mod = BENCHMARKS[key]
        workdir = cfg.workdir / f"bench-{key}"
        workdir.mkdir()
        t0 = time.monotonic()
        console.print(f"[bold]running {mod.TITLE}[/bold] …")
        try:
            got = mod.run(cfg, workdir)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"[:400]
            got = [Row(mod.TITLE, "could not run", message, error=True)]
        console.print(f"  done in {time.monotonic() - t0:.0f} s")
        rows += got
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    exit_on_sigterm()
    console = Console(width=None if sys.stdout.isatty() else 180)
    load_before = report.load_average()
    workdir = Path(tempfile.mkdtemp(prefix="loki-bench-"))
    try:
        cfg = config(args, workdir)
        rows = run(args.only, cfg, console)
    finally:
        if args.keep:
            console.print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    command = shlex.join(["python", "-m", "bench", *argv])
    report.print_table(rows, f"loki-mode benchmarks ({cfg.runs} run(s), median)", console)
    if not args.no_write:
        facts = report.machine_facts()
        facts["Load average (1 min) at start → end"] = f"{load_before} → {report.load_average()}"
        text = report.markdown(rows, facts, cfg, command)
        report.write(args.output, text)
        console.print(f"written to {args.output}")
    if any(r.error for r in rows):
        return 1
    if args.strict and any(r.ok is False for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
