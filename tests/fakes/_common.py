"""What every fake provider CLI shares: picking a scenario, recording the prompt, emitting lines.

A fake is started exactly as the real CLI would be (the engine appends the real
flags to `LOKI_<PROVIDER>_CMD`), so it must accept and ignore flags it does not
care about.

Scenario, first found wins:
  1. `--scenario NAME` on the fake's own command line (put it in LOKI_<P>_CMD),
  2. the environment variable FAKE_SCENARIO,
  3. the file `.fake-scenario` in the working directory (the session's project).
A scenario may be a comma list, one entry per invocation: `crash,crash,success`
runs `crash` on the first call, `crash` on the second, `success` from then on.
The call count lives in `.fake-calls` in the working directory.

Every invocation writes the prompt it received to `.fake-prompts/prompt-<N>.txt`
in the working directory (N counts from 1), so tests can check what reached the
agent. FAKE_LINE_DELAY (seconds, float) slows every emitted line.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

PHASE_MARKER = "LOKI_PHASE:"
INPUT_MARKER = "LOKI_INPUT_NEEDED:"
PROMISE_LINE = re.compile(r"^COMPLETION PROMISE: (.+)$", re.MULTILINE)


def pop_scenario(argv: list[str]) -> tuple[str, list[str]]:
    """Remove `--scenario NAME` from argv; return the scenario for this invocation."""
    rest = list(argv)
    chosen: str | None = None
    if "--scenario" in rest:
        i = rest.index("--scenario")
        chosen = rest[i + 1]
        del rest[i : i + 2]
    chosen = chosen or os.environ.get("FAKE_SCENARIO")
    cwd = Path.cwd()
    if not chosen and (cwd / ".fake-scenario").exists():
        chosen = (cwd / ".fake-scenario").read_text().strip()
    entries = [e.strip() for e in (chosen or "success").split(",") if e.strip()]
    calls_file = cwd / ".fake-calls"
    try:
        calls = int(calls_file.read_text()) + 1
    except (OSError, ValueError):
        calls = 1
    calls_file.write_text(str(calls))
    return entries[min(calls, len(entries)) - 1], rest


def record_prompt(prompt: str) -> None:
    folder = Path.cwd() / ".fake-prompts"
    folder.mkdir(exist_ok=True)
    n = len(list(folder.glob("prompt-*.txt"))) + 1
    (folder / f"prompt-{n}.txt").write_text(prompt)


def completion_promise(prompt: str) -> str | None:
    match = PROMISE_LINE.search(prompt)
    return match.group(1).strip() if match else None


def emit(obj: dict[str, Any] | str) -> None:
    delay = float(os.environ.get("FAKE_LINE_DELAY", "0") or 0)
    if delay:
        time.sleep(delay)
    line = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def ignore_term_child() -> int:
    """Start a grandchild that ignores SIGTERM (for the stop-kills-the-group tests); return its pid."""
    import subprocess

    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
        ],
        stdin=subprocess.DEVNULL,
    )
    pid_file = Path.cwd() / ".fake-child-pids"
    with pid_file.open("a") as fh:
        fh.write(f"{child.pid}\n")
    return child.pid
