#!/usr/bin/env python3
"""A stand-in for `gemini -p PROMPT --output-format stream-json --approval-mode yolo [-m M]`.

Replays streams shaped like the real captures in shared/fixtures/real/gemini (CLI 0.11-0.44):
the same event types, key order and id styles. Scenarios and shared behaviour: see _common.py.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # after the sys.path line on purpose: this file runs as a script
    INPUT_MARKER,
    PHASE_MARKER,
    completion_promise,
    emit,
    ignore_term_child,
    pop_scenario,
    record_prompt,
)

DEFAULT_MODEL = "gemini-2.5-pro"
# Flags of the real CLI that take a value; anything else starting with "-" is a switch.
VALUE_FLAGS = {
    "-p", "--prompt", "-m", "--model", "-o", "--output-format", "--approval-mode", "-r",
    "--resume", "--session-id", "--include-directories", "-e", "--extensions",
    "--allowed-mcp-server-names", "--allowed-tools", "-s", "--sandbox",
}  # fmt: skip
# Success stats: 12000 prompt tokens (4000 cached), 600 answer + 250 thinking tokens.
SUCCESS_TOKENS = {
    "total_tokens": 12850,
    "input_tokens": 12000,
    "output_tokens": 600,
    "cached": 4000,
}
SMALL_TOKENS = {"total_tokens": 1030, "input_tokens": 1000, "output_tokens": 30, "cached": 0}
NO_TOKENS = {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0, "cached": 0}
PLAN = ["Design the data model", "Implement the API endpoints", "Write tests for the API"]


def parse_args(argv: list[str]) -> tuple[str, str]:
    """Return (prompt, model) from the flags the adapter builds; ignore the rest."""
    values: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and "=" in arg:
            name, _, value = arg.partition("=")
            values[name] = value
        elif arg in VALUE_FLAGS and i + 1 < len(argv):
            values[arg] = argv[i + 1]
            i += 1
        elif not arg.startswith("-"):
            positional.append(arg)
        i += 1
    prompt = values.get("-p", values.get("--prompt", " ".join(positional)))
    return prompt, values.get("-m", values.get("--model", DEFAULT_MODEL))


class Stream:
    """Writes events in the CLI's own shape and key order."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.tool_calls = 0
        self.started = time.monotonic()

    def event(self, kind: str, **fields: Any) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        emit({"type": kind, "timestamp": stamp, **fields})

    def init(self, prompt: str) -> None:
        self.event("init", session_id=str(uuid.uuid4()), model=self.model)
        self.event("message", role="user", content=prompt)

    def say(self, *chunks: str) -> None:
        for chunk in chunks:
            self.event("message", role="assistant", content=chunk, delta=True)

    def call(self, name: str, parameters: dict[str, Any]) -> str:
        tool_id = f"{name}_{int(time.time() * 1000)}_{self.tool_calls}"
        self.tool_calls += 1
        self.event("tool_use", tool_name=name, tool_id=tool_id, parameters=parameters)
        return tool_id

    def tool(self, name: str, parameters: dict[str, Any], output: str | None = "") -> None:
        tool_id = self.call(name, parameters)
        # Tools whose display is not a string (write_file, write_todos) send no `output` key.
        extra = {} if output is None else {"output": output}
        self.event("tool_result", tool_id=tool_id, status="success", **extra)

    def todos(self, *statuses: str) -> None:
        todos = [{"description": d, "status": s} for d, s in zip(PLAN, statuses, strict=True)]
        self.tool("write_todos", {"todos": todos}, output=None)

    def result(self, tokens: dict[str, int], error: dict[str, str] | None = None) -> None:
        per_model = {**tokens, "input": tokens["input_tokens"] - tokens["cached"]}
        stats = {
            **per_model,
            "duration_ms": int((time.monotonic() - self.started) * 1000),
            "tool_calls": self.tool_calls,
            "models": {self.model: per_model},
        }
        status = {"status": "error", "error": error} if error else {"status": "success"}
        self.event("result", **status, stats=stats)


def success(out: Stream, prompt: str, promise: str | None = None) -> int:
    out.init(prompt)
    phase = f"{PHASE_MARKER} design\n"
    out.say("I'll read the PRD and plan the work.\n", phase[:8], phase[8:])
    out.tool("read_file", {"file_path": "PRD.md"})
    out.todos("pending", "pending", "pending")
    out.todos("in_progress", "pending", "pending")
    out.say("The data model is one `items` table with an id and a title.\n")
    out.say(f"{PHASE_MARKER} implement\n")
    out.todos("completed", "in_progress", "pending")
    out.tool("write_file", {"file_path": "app.py", "content": "def list_items(): ...\n"}, None)
    out.todos("completed", "completed", "in_progress")
    tests = {"command": "python -m pytest -q", "description": "Run the tests"}
    out.tool("run_shell_command", tests, output="3 passed in 0.12s")
    out.todos("completed", "completed", "completed")
    out.say("All three tasks are done and the tests pass.")
    if promise:
        # Split mid-word, as the real CLI splits tokens across deltas.
        half = len(promise) // 2
        out.say(f"\n{promise[:half]}", f"{promise[half:]}\n")
    out.result(SUCCESS_TOKENS)
    return 0


def crash(out: Stream, prompt: str) -> int:
    out.init(prompt)
    out.say("Running the test suite first.\n")
    out.tool("run_shell_command", {"command": "python -m pytest -q"}, output="1 failed")
    message = "[API Error: exception TypeError: fetch failed sending request]"
    out.result(SMALL_TOKENS, {"type": "unknown", "message": message})
    return 1


def ratelimit(out: Stream, prompt: str) -> int:
    seconds = float(os.environ.get("FAKE_RESET_SECONDS", "2") or 2)
    message = (
        "[API Error: You have exhausted your capacity on this model. "
        f"Your quota will reset after {go_duration(seconds)}.]"
    )
    out.init(prompt)
    out.result(NO_TOKENS, {"type": "TerminalQuotaError", "message": message})
    return 1


def auth(out: Stream, prompt: str) -> int:
    out.init(prompt)
    message = "[API Error: API key not valid. Please pass a valid API key.]"
    out.result(NO_TOKENS, {"type": "unknown", "message": message})
    return 1


def hang(out: Stream, prompt: str) -> int:
    out.init(prompt)
    out.say("Starting the dev server to check the page renders.\n")
    out.call("run_shell_command", {"command": "npm run dev"})  # ...which never returns
    time.sleep(600)
    return 0


def ignore_term(out: Stream, prompt: str) -> int:
    ignore_term_child()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return hang(out, prompt)


def ask(out: Stream, prompt: str) -> int:
    out.init(prompt)
    out.say(
        "I can store the items in two ways.\n", f"{INPUT_MARKER} Which database should I use?\n"
    )
    out.result(SMALL_TOKENS)
    return 0


def flood(out: Stream, prompt: str) -> int:
    out.init(prompt)
    for i in range(int(os.environ.get("FAKE_LINES", "2000") or 2000)):
        out.say(f"line {i}\n")
    out.result(SMALL_TOKENS)
    return 0


def replay(path: str) -> int:
    for line in Path(path).read_text().splitlines():
        emit(line)
    return int(os.environ.get("FAKE_EXIT_CODE", "0") or 0)


def go_duration(seconds: float) -> str:
    """Format like the server does (Go's time.Duration): 2s, 1m5s, 8h44m7s."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:g}s"
    if hours or minutes:
        text = f"{int(minutes)}m{text}"
    return f"{int(hours)}h{text}" if hours else text


def main(argv: list[str]) -> int:
    scenario, rest = pop_scenario(argv)
    prompt, model = parse_args(rest)
    record_prompt(prompt)
    if scenario.startswith("replay:"):
        return replay(scenario.removeprefix("replay:"))
    if scenario == "slow" and not os.environ.get("FAKE_LINE_DELAY"):
        os.environ["FAKE_LINE_DELAY"] = "0.3"
    out = Stream(model)
    runs = {
        "success": lambda: success(out, prompt),
        "slow": lambda: success(out, prompt),
        "promise": lambda: success(out, prompt, completion_promise(prompt)),
        "crash": lambda: crash(out, prompt),
        "ratelimit": lambda: ratelimit(out, prompt),
        "auth": lambda: auth(out, prompt),
        "hang": lambda: hang(out, prompt),
        "ignore-term": lambda: ignore_term(out, prompt),
        "ask": lambda: ask(out, prompt),
        "flood": lambda: flood(out, prompt),
    }
    if scenario not in runs:
        sys.stderr.write(f"fake_gemini: unknown scenario {scenario!r}\n")
        return 2
    return runs[scenario]()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:  # the reader went away; the real CLI exits 0 on EPIPE too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
