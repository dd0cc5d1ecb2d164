#!/usr/bin/env python3
"""A fake `claude -p ... --output-format stream-json` built for measuring, not for behaviour.

tests/fakes/fake_claude.py flushes every line and builds each with json.dumps and two
uuid4s, so it tops out near 30k lines/s on a 2-core machine: it, not the server, would
be measured. This one prints the same line shapes from a template.

BENCH_FAKE_MODE:
  flood  BENCH_FAKE_LINES (default 100000) assistant text lines `line N`, written in
         large blocks as fast as the pipe takes them.
  timed  BENCH_FAKE_LINES (default 400) lines `t=<epoch> i=<N>`, one every
         BENCH_FAKE_INTERVAL seconds (default 0.01), each flushed when printed, so a
         subscriber can compare the time a line was printed with the time it arrived.
A file `.bench-fake-lines` in the working directory overrides BENCH_FAKE_LINES.
Every flag of the real CLI is accepted and ignored.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

MODEL = "claude-sonnet-4-5-20250929"
SESSION = "0b3c5e7a-bench-4000-8000-000000000000"
USAGE = (
    '{"input_tokens":4,"cache_creation_input_tokens":120,"cache_read_input_tokens":900,'
    '"output_tokens":12,"service_tier":"standard"}'
)
TEXT_LINE = (
    '{"type":"assistant","message":{"model":"' + MODEL + '","id":"msg_01Bench%08d",'
    '"type":"message","role":"assistant","content":[{"type":"text","text":"%s"}],'
    '"stop_reason":null,"stop_sequence":null,"usage":' + USAGE + "},"
    '"parent_tool_use_id":null,"session_id":"' + SESSION + '",'
    '"uuid":"00000000-0000-4000-8000-%012d"}\n'
)


def init_line(cwd: str) -> str:
    return (
        json.dumps(
            {
                "type": "system",
                "subtype": "init",
                "cwd": cwd,
                "tools": ["Bash", "Read", "Edit", "Write", "TodoWrite"],
                "mcp_servers": [],
                "model": MODEL,
                "permissionMode": "bypassPermissions",
                "apiKeySource": "none",
                "claude_code_version": "2.0.25",
                "session_id": SESSION,
                "uuid": "00000000-0000-4000-8000-000000000000",
            },
            separators=(",", ":"),
        )
        + "\n"
    )


def result_line(turns: int) -> str:
    usage = {
        MODEL: {
            "inputTokens": 100,
            "outputTokens": 50,
            "cacheReadInputTokens": 0,
            "cacheCreationInputTokens": 0,
            "webSearchRequests": 0,
            "costUSD": 0.001,
            "contextWindow": 200000,
        }
    }
    line = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "duration_ms": 1000,
        "duration_api_ms": 900,
        "num_turns": turns,
        "result": "done",
        "total_cost_usd": 0.001,
        "usage": {"input_tokens": 100, "output_tokens": 50},
        "modelUsage": usage,
        "permission_denials": [],
        "session_id": SESSION,
        "uuid": "00000000-0000-4000-8000-ffffffffffff",
    }
    return json.dumps(line, separators=(",", ":")) + "\n"


def flood(lines: int) -> None:
    out = sys.stdout.buffer
    out.write(init_line(os.getcwd()).encode())
    block: list[str] = []
    for i in range(lines):
        block.append(TEXT_LINE % (i + 1, f"line {i}", i + 1))
        if len(block) == 1000:
            out.write("".join(block).encode())
            block.clear()
    block.append(result_line(lines))
    out.write("".join(block).encode())
    out.flush()


def timed(lines: int, interval: float) -> None:
    out = sys.stdout
    out.write(init_line(os.getcwd()))
    out.flush()
    next_at = time.monotonic()
    for i in range(lines):
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        out.write(TEXT_LINE % (i + 1, f"t={time.time():.6f} i={i}", i + 1))
        out.flush()
    out.write(result_line(lines))
    out.flush()


def line_count(default: int) -> int:
    try:
        return int(Path(".bench-fake-lines").read_text())
    except (OSError, ValueError):
        return int(os.environ.get("BENCH_FAKE_LINES", default))


def main() -> int:
    mode = os.environ.get("BENCH_FAKE_MODE", "flood")
    if mode == "flood":
        flood(line_count(100_000))
    elif mode == "timed":
        timed(line_count(400), float(os.environ.get("BENCH_FAKE_INTERVAL", "0.01")))
    else:
        print(f"fake_provider: unknown BENCH_FAKE_MODE {mode!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
