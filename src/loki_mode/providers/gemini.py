"""Google Gemini CLI: `gemini -p PROMPT --output-format stream-json` and its JSONL events.

Events (each with `type` and `timestamp`): init, message (assistant text arrives as
`delta` chunks), tool_use, tool_result, error, result. The plan is the `write_todos`
tool; Gemini has no sub-agents in this stream. Stats in `result` are per session,
so a second result in the same process repeats the first one's tokens.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loki_mode.providers.base import (
    CommandSpec,
    Fact,
    Ignored,
    Log,
    Outcome,
    Output,
    RateLimited,
    TaskUpsert,
    ToolUse,
    Usage,
)
from loki_mode.types import TaskStatus

_TODO_STATUS: dict[str, TaskStatus] = {
    "pending": "pending",
    "in_progress": "running",
    "completed": "completed",
    "cancelled": "skipped",
}
# Parameter names that say what a tool acts on, most telling first.
_TARGET_KEYS = (
    "file_path", "absolute_path", "path", "dir_path", "directory", "command", "pattern",
    "query", "url", "urls", "paths", "include", "title", "fact", "prompt", "description",
)  # fmt: skip

_QUOTA = re.compile(
    r"quota|resource.?exhausted|rate.?limit|too many requests|exhausted your|usage limit|\b429\b",
    re.I,
)
# Failures a retry cannot fix: credentials, the model name, the request or the flags.
_FATAL = re.compile(
    r"Fatal(?:Authentication|Input|Config|Sandbox)Error|authenticat|not logged in|auth method"
    r"|please (?:re-?)?log ?in|api.?key\W.{0,40}(?:invalid|not valid|expired)|API_KEY_INVALID"
    r"|PERMISSION_DENIED|ModelNotFoundError|Requested entity was not found"
    r"|(?:unknown|invalid|unsupported) model|models?\W.{0,60}not (?:found|supported)"
    r"|INVALID_ARGUMENT|bad request|(?:status|code)\W{0,3}400\b|unknown argument|unknown option",
    re.I,
)

_UNIT = r"(ms|milliseconds?|h(?:ours?|rs?)?|m(?:in(?:ute)?s?)?|s(?:ec(?:ond)?s?)?)(?![a-z])"
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*" + _UNIT, re.I)
_AFTER = re.compile(
    r"(?:reset after|retry in|retry after|try again in|retryDelay\W{0,4})\s*"
    r"((?:\d+(?:\.\d+)?\s*" + _UNIT + r"[\s,]*)+)",
    re.I,
)
_RETRY_AFTER = re.compile(r"retry-after\W{0,3}(\d+(?:\.\d+)?)\b", re.I)
_ISO_RESET = re.compile(
    r"(?:quotaResetTimeStamp|resets?_?at)\W{0,4}(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?"
    r"(?:Z|[+-]\d\d:?\d\d)?)",
    re.I,
)
_EPOCH_RESET = re.compile(r"(?:resets?_?at\W{0,4}|\|)(\d{10}(?:\.\d+)?)\b", re.I)
_CLOCK_RESET = re.compile(
    r"resets?\s+(?:at\s+)?(\d{1,2})(?::(\d\d))?\s*([ap]m)?\s*\(([\w/+-]+)\)", re.I
)
_UNIT_SECONDS = {"ms": 0.001, "h": 3600.0, "m": 60.0, "s": 1.0}


class GeminiProvider:
    name = "gemini"
    default_executable = "gemini"
    env_var = "LOKI_GEMINI_CMD"

    def build_argv(self, prompt: str, spec: CommandSpec, cwd: str) -> list[str]:
        # No directory flag: the engine starts the CLI in `cwd`.
        argv = [*spec.executable, "-p", prompt, "--output-format", "stream-json"]
        argv += ["--approval-mode", "yolo"]
        if spec.model:
            argv += ["-m", spec.model]
        return [*argv, *spec.extra_args]

    def parser(self) -> GeminiParser:
        return GeminiParser()


class GeminiParser:
    """Turns one run's stdout into facts; keeps the state that spans lines."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._handlers: dict[str, Callable[[dict[str, Any]], list[Fact]]] = {
            "init": self._on_init,
            "message": self._on_message,
            "tool_use": self._on_tool_use,
            "tool_result": self._on_tool_result,
            "error": self._on_error,
            "result": self._on_result,
        }
        self._deltas: list[str] = []
        self._last_text = ""
        self._pending_error = ""  # an error event not yet followed by a result
        self._model: str | None = None
        self._tools: dict[str, str] = {}
        self._plan: dict[str, TaskUpsert] = {}
        self._usage_so_far: dict[str, tuple[int, int, int]] = {}

    def feed(self, line: str) -> list[Fact]:
        try:
            return self._feed(line)
        except Exception as exc:  # the engine must outlive any surprise in the output
            return [Log("error", f"gemini parser failed on a line: {exc!r}: {line[:200]}")]

    def finish(self) -> list[Fact]:
        facts = self._flush()
        if self._pending_error:
            # Older CLIs end on an error event with no result line (e.g. a bad API key).
            facts += self._failure(self._pending_error, "stream_error")
            self._pending_error = ""
        return facts

    def _feed(self, line: str) -> list[Fact]:
        if not line.strip():
            return [Ignored("gemini.blank_line")]
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            return [*self._flush(), Output(line)]  # warnings printed before the stream, etc.
        kind = event.get("type")
        if kind == "message" and event.get("role") == "assistant" and event.get("delta"):
            self._deltas.append(_text(event.get("content")))
            return [Ignored("gemini.message.delta_buffered")]
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        facts = self._flush()
        return facts + (handler(event) if handler else [Ignored("gemini.unknown_type")])

    def _flush(self) -> list[Fact]:
        text, self._deltas = "".join(self._deltas), []
        if not text.strip():
            return []
        self._last_text = text
        return [Output(text)]

    def _on_init(self, event: dict[str, Any]) -> list[Fact]:
        self._model = _text(event.get("model")) or None
        session = _text(event.get("session_id"))
        return [Log("info", f"gemini session {session} started, model {self._model}")]

    def _on_message(self, event: dict[str, Any]) -> list[Fact]:
        role = event.get("role")
        if role == "user":
            return [Ignored("gemini.message.user_echo")]
        if role != "assistant":
            return [Ignored("gemini.message.unknown_role")]
        self._deltas.append(_text(event.get("content")))  # a whole message, not a chunk
        return self._flush() or [Ignored("gemini.message.empty")]

    def _on_tool_use(self, event: dict[str, Any]) -> list[Fact]:
        tool = _text(event.get("tool_name")) or "unknown_tool"
        self._tools[_text(event.get("tool_id"))] = tool
        params = event.get("parameters")
        params = params if isinstance(params, dict) else {}
        if tool != "write_todos":
            return [ToolUse(tool, _target(params))]
        todos = params.get("todos")
        todos = todos if isinstance(todos, list) else []
        return [ToolUse(tool, f"{len(todos)} todo(s)"), *self._on_plan(todos)]

    def _on_plan(self, todos: list[Any]) -> list[Fact]:
        """Each call re-sends the whole list; key items by their text so keys survive re-sends."""
        current: dict[str, TaskUpsert] = {}
        for item in todos:
            description = _text(item.get("description")).strip() if isinstance(item, dict) else ""
            if not description:
                continue
            digest = hashlib.blake2s(" ".join(description.lower().split()).encode(), digest_size=6)
            key = base = f"todo-{digest.hexdigest()}"
            copies = 1
            while key in current:  # the same text twice: number the later copies in order
                copies += 1
                key = f"{base}-{copies}"
            status = _TODO_STATUS.get(_text(item.get("status")), "pending")
            current[key] = TaskUpsert(key, _short(description, 100), status, description)
        # The list overwrites the old one, so an unfinished item left out was dropped.
        dropped = [
            replace(task, status="skipped")
            for key, task in self._plan.items()
            if key not in current and task.status not in ("completed", "skipped")
        ]
        self._plan = {**{task.key: task for task in dropped}, **current}
        return [*current.values(), *dropped]

    def _on_tool_result(self, event: dict[str, Any]) -> list[Fact]:
        if event.get("status") != "error":
            return [Ignored("gemini.tool_result.ok")]
        tool = self._tools.get(_text(event.get("tool_id")), "tool")
        error = event.get("error")
        message = _text(error.get("message")) if isinstance(error, dict) else ""
        return [Log("warn", f"{tool} failed: {message or 'no details'}")]

    def _on_error(self, event: dict[str, Any]) -> list[Fact]:
        message = _text(event.get("message")) or "unknown error"
        if event.get("severity") == "warning":
            return [Log("warn", message)]
        self._pending_error = message
        return [Log("error", message)]

    def _on_result(self, event: dict[str, Any]) -> list[Fact]:
        facts = self._usage(event.get("stats"))
        if event.get("status") == "success":
            facts.append(Outcome(False, self._last_text, "success"))
        else:
            error = event.get("error")
            error = error if isinstance(error, dict) else {}
            message = _text(error.get("message")) or self._pending_error
            subtype = _text(error.get("type")) or "error"
            facts += self._failure(message or f"result status {event.get('status')}", subtype)
        self._pending_error, self._last_text = "", ""
        return facts

    def _failure(self, message: str, subtype: str) -> list[Fact]:
        if _QUOTA.search(f"{subtype} {message}"):
            resets_at = reset_time(message, self._clock())
            return [RateLimited(message, resets_at), Outcome(True, message, subtype)]
        fatal = bool(_FATAL.search(f"{subtype} {message}"))
        return [Outcome(True, message, subtype, fatal=fatal)]

    def _usage(self, stats: object) -> list[Fact]:
        """One Usage per model, counting only what the stats added since the last result."""
        if not isinstance(stats, dict):
            return []
        models = stats.get("models")
        rows = list(models.items()) if isinstance(models, dict) and models else [("", stats)]
        facts: list[Fact] = []
        for model, row in rows:
            if not isinstance(row, dict):
                continue
            prompt, cached = _int(row.get("input_tokens")), _int(row.get("cached"))
            fresh = _int(row["input"]) if "input" in row else max(prompt - cached, 0)
            # output_tokens leaves out thinking tokens, which total_tokens (and the bill) include.
            output = max(_int(row.get("output_tokens")), _int(row.get("total_tokens")) - prompt)
            totals = (fresh, cached, output)
            seen = self._usage_so_far.get(model, (0, 0, 0))
            self._usage_so_far[model] = totals
            added = [max(now - before, 0) for now, before in zip(totals, seen, strict=True)]
            if any(added):
                name = model or self._model
                facts.append(Usage(added[0], added[2], cache_read_tokens=added[1], model=name))
        return facts


def reset_time(text: str, now: float) -> float | None:
    """Epoch seconds at which a limit named in `text` resets, if the text says."""
    if match := _ISO_RESET.search(text):
        try:
            return datetime.fromisoformat(match.group(1).replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    if match := _EPOCH_RESET.search(text):
        return float(match.group(1))
    if match := _CLOCK_RESET.search(text):
        return _next_clock_time(*match.groups(), now=now)
    if match := _AFTER.search(text):
        parts = _DURATION_PART.findall(match.group(1))
        return now + sum(float(n) * _UNIT_SECONDS[_unit(u)] for n, u in parts)
    if match := _RETRY_AFTER.search(text):
        return now + float(match.group(1))
    return None


def _next_clock_time(
    hour: str, minute: str | None, ampm: str | None, zone: str, *, now: float
) -> float | None:
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    h, m = int(hour, 10), int(minute or "0", 10)  # base 10: "08" and "09" are not octal
    if ampm:
        h = h % 12 + (12 if ampm.lower() == "pm" else 0)
    if h > 23 or m > 59:
        return None
    local_now = datetime.fromtimestamp(now, tz)
    target = local_now.replace(hour=h, minute=m, second=0, microsecond=0)
    if target <= local_now:
        target += timedelta(days=1)
    return target.timestamp()


def _unit(word: str) -> str:
    word = word.lower()
    return "ms" if word.startswith("ms") or word.startswith("milli") else word[0]


def _target(params: dict[str, Any]) -> str:
    for key in _TARGET_KEYS:
        value = params.get(key)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if isinstance(value, str) and value.strip():
            return _short(value, 120)
    return ""


def _short(text: str, limit: int) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0
