#!/usr/bin/env python3
"""A fake `codex` CLI that replays `codex exec --json` streams.

Start it exactly like the real CLI (`codex exec --json ... -C DIR -- PROMPT`); it
moves into `-C DIR` as Codex does, takes the prompt from the command line (or stdin
when there is none, or it is `-`), and picks a scenario as `_common` describes.
Every line has the shape of the real captures in shared/fixtures/real/codex/.

Scenarios: success, promise, crash, ratelimit, auth, slow, hang, ignore-term, ask,
flood, replay:<path>. Real Codex names a usage-limit reset as a local clock time
with minutes only ("try again at 5:30 PM"); the fake adds seconds
("5:30:02 PM") so a reset FAKE_RESET_SECONDS away stays exact.
"""

from __future__ import annotations

import math
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

# This runs as a script, not as part of the tests package: find _common beside it.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    INPUT_MARKER,
    PHASE_MARKER,
    completion_promise,
    emit,
    ignore_term_child,
    pop_scenario,
    record_prompt,
)

THREAD = "019a3fe1-fd7f-7d41-8cae-00000000c0de"
WORKER = "019a3fe2-0a11-7c22-9d33-0000000a9e17"
PLAN = ["Design the todo API", "Implement the endpoints", "Write and run the tests"]
USAGE = {
    "input_tokens": 24000,
    "cached_input_tokens": 18000,
    "output_tokens": 1200,
    "reasoning_output_tokens": 320,
}
SMALL_USAGE = {"input_tokens": 6000, "cached_input_tokens": 4000, "output_tokens": 90}
VALUE_FLAGS = {"-m", "--model", "-C", "--cd", "-s", "--sandbox", "-c", "--config", "-p"}
VALUE_FLAGS |= {"--profile", "-i", "--image", "-o", "--output-last-message", "--color"}
VALUE_FLAGS |= {"--output-schema", "--add-dir", "--enable", "--disable", "--local-provider"}


def parse_args(argv: list[str]) -> tuple[str | None, str]:
    """Return (`-C` folder, prompt) from a `codex exec` command line; unknown flags pass."""
    args = argv[1:] if argv[:1] in (["exec"], ["e"]) else argv
    folder, positionals, i = None, [], 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            positionals += args[i + 1 :]
            break
        if arg in VALUE_FLAGS:
            folder = args[i + 1] if arg in ("-C", "--cd") and i + 1 < len(args) else folder
            i += 2
            continue
        if arg == "-" or not arg.startswith("-"):
            positionals.append(arg)
        i += 1
    return folder, positionals[-1] if positionals else "-"


def item(phase: str, item_id: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"item.{phase}", "item": {"id": item_id, "type": kind, **fields}}


def begin() -> None:
    emit({"type": "thread.started", "thread_id": THREAD})
    emit({"type": "turn.started"})


def message(item_id: str, text: str) -> None:
    emit(item("completed", item_id, "agent_message", text=text))


def plan(phase: str, done: int) -> None:
    entries = [{"text": text, "completed": i < done} for i, text in enumerate(PLAN)]
    emit(item(phase, "item_0", "todo_list", items=entries))


def command(item_id: str, cmd: str, output: str | None, exit_code: int = 0) -> None:
    """A shell command as Codex reports it: started, then completed (unless output is None)."""
    run: dict[str, Any] = {"command": f"/bin/bash -lc {shlex.quote(cmd)}"}
    run.update(aggregated_output="", exit_code=None, status="in_progress")
    emit(item("started", item_id, "command_execution", **run))
    if output is not None:
        status = "completed" if exit_code == 0 else "failed"
        run.update(aggregated_output=output, exit_code=exit_code, status=status)
        emit(item("completed", item_id, "command_execution", **run))


def collab(
    item_id: str, tool: str, receivers: list[str], states: dict[str, Any], **extra: Any
) -> None:
    """A sub-agent tool call; spawn_agent learns the new thread id only when it completes."""
    call = {"tool": tool, "sender_thread_id": THREAD, **extra}
    started = {"receiver_thread_ids": receivers, "agents_states": {}, "status": "in_progress"}
    emit(item("started", item_id, "collab_tool_call", **call, **started))
    done = {"receiver_thread_ids": [WORKER], "agents_states": states, "status": "completed"}
    emit(item("completed", item_id, "collab_tool_call", **call, **done))


def fail(message_text: str, retries: int = 0) -> int:
    for n in range(1, retries + 1):
        emit({"type": "error", "message": f"Reconnecting... {n}/5 ({message_text})"})
    emit({"type": "error", "message": message_text})
    emit({"type": "turn.failed", "error": {"message": message_text}})
    return 1


def success(prompt: str, promise: bool = False) -> int:
    begin()
    plan("started", done=0)
    emit(item("completed", "item_1", "reasoning", text="**Planning the todo API work**"))
    message("item_2", f"{PHASE_MARKER} design\nReading the PRD and sketching the API first.")
    command("item_3", "cat PRD.md", "# Todo API\nCRUD endpoints for todos.\n")
    plan("updated", done=1)
    spawned = {WORKER: {"status": "pending_init", "message": None}}
    collab("item_4", "spawn_agent", [], spawned, prompt="Write unit tests for the todo API")
    message("item_5", f"{PHASE_MARKER} implement\nA sub-agent writes tests while I build.")
    changes = [{"path": "src/todo/api.py", "kind": "add"}]
    emit(item("started", "item_6", "file_change", changes=changes, status="in_progress"))
    emit(item("completed", "item_6", "file_change", changes=changes, status="completed"))
    plan("updated", done=2)
    finished = {WORKER: {"status": "completed", "message": "Added 12 tests"}}
    collab("item_7", "wait", [WORKER], finished)
    collab("item_8", "close_agent", [WORKER], {WORKER: {"status": "shutdown", "message": None}})
    command("item_9", "pytest -q", "12 passed in 0.41s\n")
    plan("updated", done=3)
    final = "All three plan items are done and 12 tests pass."
    if promise and (words := completion_promise(prompt)):
        final += f"\n{words}"
    message("item_10", final)
    plan("completed", done=3)
    emit({"type": "turn.completed", "usage": USAGE})
    return 0


def crash(prompt: str) -> int:
    begin()
    emit(item("completed", "item_0", "reasoning", text="**Checking the build**"))
    message("item_1", "Looking at the failing build first.")
    command("item_2", "make", output=None)
    url = "https://chatgpt.com/backend-api/codex/responses"
    return fail(f"stream disconnected before completion: error sending request for url ({url})", 1)


def ratelimit(prompt: str) -> int:
    begin()
    seconds = float(os.environ.get("FAKE_RESET_SECONDS", "2") or 2)
    reset = datetime.fromtimestamp(math.ceil(time.time() + seconds))
    when = f"{reset.hour % 12 or 12}:{reset:%M:%S} {'AM' if reset.hour < 12 else 'PM'}"
    if reset.date() != datetime.now().date():
        day = reset.day
        suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        when = f"{reset:%b} {day}{suffix}, {reset.year} {when}"
    return fail(
        "You've hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit "
        f"https://chatgpt.com/codex/settings/usage to purchase more credits or try again at {when}."
    )


def auth(prompt: str) -> int:
    begin()
    return fail(
        "unexpected status 401 Unauthorized: Missing bearer or basic authentication in header, "
        "url: https://api.openai.com/v1/responses, cf-ray: REDACTED-SEA, request id: REDACTED",
        retries=2,
    )


def slow(prompt: str) -> int:
    os.environ.setdefault("FAKE_LINE_DELAY", "0.3")  # emit() reads it on every line
    return success(prompt)


def hang(prompt: str) -> int:
    begin()
    message("item_0", "Working on it...")
    time.sleep(600)
    return 0


def ignore_term(prompt: str) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ignore_term_child()
    emit({"type": "thread.started", "thread_id": THREAD})
    time.sleep(600)
    return 0


def ask(prompt: str) -> int:
    begin()
    question = f"{INPUT_MARKER} Which database should I use?"
    message("item_0", f"The PRD allows SQLite or Postgres and I need a decision.\n{question}")
    emit({"type": "turn.completed", "usage": SMALL_USAGE})
    return 0


def flood(prompt: str) -> int:
    begin()
    for i in range(1, int(os.environ.get("FAKE_LINES", "2000") or 2000) + 1):
        message(f"item_{i}", f"line {i}")
    emit({"type": "turn.completed", "usage": SMALL_USAGE})
    return 0


def replay(path: str) -> int:
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        emit(line)
    return int(os.environ.get("FAKE_EXIT_CODE", "0") or 0)


SCENARIOS: dict[str, Callable[[str], int]] = {
    "success": success,
    "promise": lambda prompt: success(prompt, promise=True),
    "crash": crash,
    "ratelimit": ratelimit,
    "auth": auth,
    "slow": slow,
    "hang": hang,
    "ignore-term": ignore_term,
    "ask": ask,
    "flood": flood,
}


def main(argv: list[str]) -> int:
    folder, _ = parse_args(argv)
    if folder:
        os.chdir(folder)  # Codex works in -C; the scenario files and prompts live there
    scenario, rest = pop_scenario(argv)
    _, prompt = parse_args(rest)
    if prompt == "-":  # like Codex: with no prompt argument it reads stdin
        prompt = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    record_prompt(prompt)
    if scenario.startswith("replay:"):
        return replay(scenario.removeprefix("replay:"))
    if scenario not in SCENARIOS:
        print(f"fake_codex: unknown scenario {scenario!r}", file=sys.stderr)
        return 2
    return SCENARIOS[scenario](prompt)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
