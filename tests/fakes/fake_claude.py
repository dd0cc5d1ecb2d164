#!/usr/bin/env python3
"""A fake `claude -p PROMPT --output-format stream-json --verbose ...` that replays scenarios.

Lines copy the shapes of the real captures in shared/fixtures/real/claude: CLI 2.0.25 for
the plan (TodoWrite), the `Task` sub-agent and split assistant messages; 2.1.x for the
rate-limit event, the `<synthetic>` error messages and `api_error_status`. How a scenario
is chosen is described in _common.

Scenarios: success, promise, crash, ratelimit, auth, slow, hang, ignore-term, ask, flood,
replay:<path>. Environment: FAKE_RESET_SECONDS (ratelimit, default 2), FAKE_LINES (flood,
default 2000), FAKE_EXIT_CODE (replay, default 0), FAKE_LINE_DELAY (every line; slow
defaults it to 0.3).
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

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

MAIN_MODEL = "claude-sonnet-4-5-20250929"
SUB_MODEL = "claude-haiku-4-5-20251001"
VERSION = "2.0.25"
# Flags of the real CLI that take a value; every other flag is a switch.
VALUE_FLAGS = {
    "--output-format",
    "--input-format",
    "--model",
    "--fallback-model",
    "--permission-mode",
    "--max-turns",
    "--append-system-prompt",
    "--system-prompt",
    "--resume",
    "-r",
    "--session-id",
    "--allowedTools",
    "--disallowedTools",
    "--settings",
    "--add-dir",
    "--mcp-config",
    "--max-budget-usd",
}


def parse_args(argv: list[str]) -> tuple[str, dict[str, str]]:
    """Return the prompt and the value flags, as `claude` reads `-p PROMPT --flag value ...`."""
    prompt, values, i = "", {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-p", "--print") and i + 1 < len(argv) and not prompt:
            prompt, i = argv[i + 1], i + 2
        elif arg in VALUE_FLAGS and i + 1 < len(argv):
            values[arg], i = argv[i + 1], i + 2
        elif arg == "--":
            prompt, i = prompt or " ".join(argv[i + 1 :]), len(argv)
        else:
            if not arg.startswith("-") and not prompt:
                prompt = arg
            i += 1
    return prompt, values


class Session:
    """Builds lines that carry the ids and fields a real run repeats on every line."""

    def __init__(self, model: str, cwd: str) -> None:
        self.id = str(uuid.uuid4())
        self.model = model
        self.cwd = cwd
        self.turn = 0

    def line(self, kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, **fields, "session_id": self.id, "uuid": str(uuid.uuid4())}

    def init(self) -> None:
        tools = ["Task", "Bash", "Glob", "Grep", "Read", "Edit", "Write", "TodoWrite", "WebSearch"]
        emit(
            self.line(
                "system",
                subtype="init",
                cwd=self.cwd,
                tools=tools,
                mcp_servers=[],
                model=self.model,
                permissionMode="bypassPermissions",
                slash_commands=[],
                apiKeySource="none",
                claude_code_version=VERSION,
                output_style="default",
                agents=["general-purpose", "Explore", "Plan"],
                skills=[],
            )
        )

    def message_id(self) -> str:
        self.turn += 1
        return f"msg_01Fake{self.turn:04d}{self.id[:8]}"

    def assistant(
        self, msg_id: str, block: dict[str, Any], parent: str | None = None, model: str = ""
    ) -> None:
        usage = {
            "input_tokens": 4,
            "cache_creation_input_tokens": 120,
            "cache_read_input_tokens": 900,
            "output_tokens": 12,
            "service_tier": "standard",
        }
        message = {
            "model": model or self.model,
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "content": [block],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        emit(self.line("assistant", message=message, parent_tool_use_id=parent))

    def text(self, msg_id: str, text: str, parent: str | None = None, model: str = "") -> None:
        self.assistant(msg_id, {"type": "text", "text": text}, parent, model)

    def tool(
        self,
        msg_id: str,
        name: str,
        args: dict[str, Any],
        parent: str | None = None,
        model: str = "",
    ) -> str:
        tool_id = f"toolu_01{uuid.uuid4().hex[:22]}"
        self.assistant(
            msg_id, {"type": "tool_use", "id": tool_id, "name": name, "input": args}, parent, model
        )
        return tool_id

    def tool_result(
        self, tool_id: str, content: Any, parent: str | None = None, error: bool = False
    ) -> None:
        block = {
            "tool_use_id": tool_id,
            "type": "tool_result",
            "content": content,
            "is_error": error,
        }
        emit(
            self.line(
                "user", message={"role": "user", "content": [block]}, parent_tool_use_id=parent
            )
        )

    def result(
        self,
        text: str,
        *,
        is_error: bool = False,
        model_usage: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        model_usage = model_usage or {}
        cost = sum(u["costUSD"] for u in model_usage.values())
        usage = {
            "input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 0,
            "server_tool_use": {"web_search_requests": 0},
            "service_tier": "standard",
        }
        if self.model in model_usage:
            main = model_usage[self.model]
            usage.update(
                input_tokens=main["inputTokens"],
                output_tokens=main["outputTokens"],
                cache_read_input_tokens=main["cacheReadInputTokens"],
                cache_creation_input_tokens=main["cacheCreationInputTokens"],
            )
        emit(
            self.line(
                "result",
                subtype="success",
                is_error=is_error,
                duration_ms=4210,
                duration_api_ms=3980,
                num_turns=self.turn,
                result=text,
                total_cost_usd=cost,
                usage=usage,
                modelUsage=model_usage,
                permission_denials=[],
                **extra,
            )
        )


def model_usage(model: str, i: int, o: int, read: int, made: int, cost: float) -> dict[str, Any]:
    return {
        model: {
            "inputTokens": i,
            "outputTokens": o,
            "cacheReadInputTokens": read,
            "cacheCreationInputTokens": made,
            "webSearchRequests": 0,
            "costUSD": cost,
            "contextWindow": 200000,
        }
    }


def todos(*statuses: str) -> dict[str, Any]:
    items = [
        ("Design the storage layer", "Designing the storage layer"),
        ("Implement the API endpoints", "Implementing the API endpoints"),
        ("Write the integration tests", "Writing the integration tests"),
    ]
    return {
        "todos": [
            {"content": c, "activeForm": a, "status": s}
            for (c, a), s in zip(items, statuses, strict=True)
        ]
    }


def success(s: Session, final_text: str) -> None:
    """Plan of 3, one Explore sub-agent, Read/Bash/Glob calls, two phases, known usage."""
    ok = (
        "Todos have been modified successfully. Ensure that you continue to use the todo list"
        " to track your progress. Please proceed with the current tasks if applicable"
    )
    s.init()
    m = s.message_id()
    s.text(m, f"I'll start by planning the work.\n{PHASE_MARKER} design")
    s.tool_result(s.tool(m, "TodoWrite", todos("in_progress", "pending", "pending")), ok)
    m = s.message_id()
    read = s.tool(m, "Read", {"file_path": f"{s.cwd}/PRD.md"})
    s.tool_result(read, "     1\u2192# Todo service\n     2\u2192Store todos in SQLite.")
    m = s.message_id()
    task = s.tool(
        m,
        "Task",
        {
            "subagent_type": "Explore",
            "description": "Survey the codebase",
            "prompt": "List the modules and their purpose. Thoroughness: quick",
        },
    )
    sub = s.message_id()
    glob = s.tool(sub, "Glob", {"pattern": "**/*.py"}, parent=task, model=SUB_MODEL)
    s.tool_result(glob, "src/app.py\nsrc/store.py\nsrc/api.py", parent=task)
    s.text(sub, "Three modules: app, store, api.", parent=task, model=SUB_MODEL)
    s.tool_result(task, [{"type": "text", "text": "Three modules: app, store, api."}])
    m = s.message_id()
    s.text(m, f"The design is settled.\n{PHASE_MARKER} implement\nNow the endpoints.")
    s.tool_result(s.tool(m, "TodoWrite", todos("completed", "in_progress", "pending")), ok)
    m = s.message_id()
    bash = s.tool(m, "Bash", {"command": "pytest -q", "description": "Run the test suite"})
    s.tool_result(bash, "3 passed in 0.12s")
    s.tool_result(s.tool(m, "TodoWrite", todos("completed", "completed", "in_progress")), ok)
    m = s.message_id()
    s.tool_result(s.tool(m, "TodoWrite", todos("completed", "completed", "completed")), ok)
    s.text(s.message_id(), final_text)
    usage = model_usage(s.model, 1200, 800, 5000, 3000, 0.05)
    usage |= model_usage(SUB_MODEL, 300, 100, 0, 1000, 0.01)
    s.result(final_text, model_usage=usage)


def crash(s: Session) -> int:
    s.init()
    m = s.message_id()
    s.text(m, "Let me run the test suite first.")
    s.tool_result(s.tool(m, "Bash", {"command": "pytest -q"}), "3 passed in 0.12s")
    error = (
        'API Error: 500 {"type":"error","error":{"type":"api_error",'
        '"message":"Internal server error"}}'
    )
    usage = model_usage(s.model, 150, 30, 900, 120, 0.004)
    s.result(error, is_error=True, model_usage=usage, api_error_status=500)
    print("Error: request failed after retries", file=sys.stderr)
    return 1


def ratelimit(s: Session) -> int:
    resets = math.ceil(time.time() + float(os.environ.get("FAKE_RESET_SECONDS", "2")))
    s.init()
    s.text(s.message_id(), "Working on the storage layer.")
    info = {
        "status": "rejected",
        "resetsAt": resets,
        "rateLimitType": "five_hour",
        "overageStatus": "rejected",
        "overageDisabledReason": "out_of_credits",
        "isUsingOverage": False,
    }
    emit(s.line("rate_limit_event", rate_limit_info=info))
    text = f"Claude AI usage limit reached|{resets}"
    emit(
        s.line(
            "assistant",
            message={
                "id": str(uuid.uuid4()),
                "model": "<synthetic>",
                "role": "assistant",
                "type": "message",
                "content": [{"type": "text", "text": text}],
            },
            parent_tool_use_id=None,
            error="rate_limit",
        )
    )
    s.result(text, is_error=True, api_error_status=429)
    return 1


def auth(s: Session) -> int:
    text = "Not logged in · Please run /login"
    s.init()
    message = {
        "id": str(uuid.uuid4()),
        "model": "<synthetic>",
        "role": "assistant",
        "type": "message",
        "stop_reason": "stop_sequence",
        "content": [{"type": "text", "text": text}],
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }
    emit(
        s.line("assistant", message=message, parent_tool_use_id=None, error="authentication_failed")
    )
    s.result(text, is_error=True, api_error_status=None, terminal_reason="completed")
    return 1


def flood(s: Session) -> None:
    s.init()
    for i in range(int(os.environ.get("FAKE_LINES", "2000"))):
        s.text(s.message_id(), f"line {i}")
    s.result("line done", model_usage=model_usage(s.model, 100, 50, 0, 0, 0.001))


def replay(path: str) -> int:
    for line in Path(path).read_text().splitlines():
        emit(line)
    return int(os.environ.get("FAKE_EXIT_CODE", "0") or 0)


def sleep_forever() -> int:
    time.sleep(600)
    return 0


def main(argv: list[str]) -> int:
    scenario, rest = pop_scenario(argv)
    prompt, values = parse_args(rest)
    record_prompt(prompt)
    s = Session(values.get("--model", MAIN_MODEL), os.getcwd())
    if scenario.startswith("replay:"):
        return replay(scenario.removeprefix("replay:"))
    if scenario == "slow":
        os.environ.setdefault("FAKE_LINE_DELAY", "0.3")
    if scenario in ("success", "slow"):
        success(s, "All three tasks are done and the tests pass.")
    elif scenario == "promise":
        promise = completion_promise(prompt) or ""
        success(s, f"All three tasks are done and the tests pass.\n\n{promise}".strip())
    elif scenario == "ask":
        s.init()
        text = f"Two databases would fit.\n{INPUT_MARKER} Which database should I use?"
        s.text(s.message_id(), text)
        s.result(text, model_usage=model_usage(s.model, 200, 40, 0, 0, 0.002))
    elif scenario == "flood":
        flood(s)
    elif scenario == "hang":
        s.init()
        s.text(s.message_id(), "Reading the project files.")
        return sleep_forever()
    elif scenario == "ignore-term":
        ignore_term_child()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        s.init()
        return sleep_forever()
    elif scenario in ("crash", "ratelimit", "auth"):
        return {"crash": crash, "ratelimit": ratelimit, "auth": auth}[scenario](s)
    else:
        print(f"fake_claude: unknown scenario {scenario!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
