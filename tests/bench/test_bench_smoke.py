"""Smoke: the benchmark harness runs end to end at tiny sizes, so it cannot rot unseen.

Numbers are never checked (no test asserts a time); what must hold at any size is
that the harness runs, writes its table, and that fan-out loses nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run `python -m ...` in its own process group; on timeout, end the whole group."""
    proc = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{args} took over {timeout} s:\n{out[-3000:]}\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_quick_bench_runs_overhead_and_fanout(tmp_path: Path) -> None:
    if shutil.which("wrk") is None and os.environ.get("CI") != "true":
        pytest.skip("wrk is not installed (apt-get install wrk); CI installs it")
    report = tmp_path / "benchmarks.md"
    done = run(["bench", "--quick", "--only", "1,3", "--output", str(report)], timeout=100)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    text = report.read_text()
    assert "| Benchmark | Metric | Measured | Goal | Result |" in text
    assert "GET /health/live req/s" in text
    assert "vs bare Starlette on granian" in text
    assert "**ERROR**" not in text
    assert re.search(r"no event lost or reordered \|[^|]*\| all \| \*\*PASS\*\* \|", text), text
    assert "## Machine" in text and "granian" in text


def test_soak_runs_and_gives_a_verdict() -> None:
    done = run(
        ["bench.soak", "--seconds", "4", "--workers", "2", "--subscribers", "4",
         "--settle-timeout", "3"],
        timeout=100,
    )  # fmt: skip
    # 0 passed, 1 a resource grew or a 5xx came back: both are verdicts; 2 is a broken harness.
    assert done.returncode in (0, 1), done.stdout[-4000:] + done.stderr[-4000:]
    assert "file descriptors" in done.stdout
    assert "soak passed" in done.stdout or "soak failed" in done.stdout
