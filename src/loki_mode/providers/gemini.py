"""Google Gemini CLI: `gemini -p PROMPT --output-format stream-json` and its JSONL events.

Events (each with `type` and `timestamp`): init, message (assistant text arrives as
`delta` chunks), tool_use, tool_result, error, result. The plan is the `write_todos`
tool; Gemini has no sub-agents in this stream. Stats in `result` are per session,
so a second result in the same process repeats the first one's tokens.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import replace

from loki_mode.providers._json import (
    Json,
    as_dict,
    as_dicts,
    as_int,
    as_str,
    decode,
    first_line,
    tool_target,
)
from loki_mode.providers._limits import FATAL_WORDS, LIMIT_WORDS, reset_time, wording
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

_PLAN_STATUS: dict[str, TaskStatus] = {
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

_QUOTA = wording(LIMIT_WORDS, r"quota", r"resource.?exhausted", r"exhausted your", r"\b429\b")
_FATAL = wording(
    FATAL_WORDS,
    r"Fatal(?:Authentication|Input|Config|Sandbox)Error", r"auth method",
    r"please (?:re-?)?log ?in", r"API_KEY_INVALID", r"PERMISSION_DENIED", r"ModelNotFoundError",
    r"Requested entity was not found", r"INVALID_ARGUMENT", r"(?:status|code)\W{0,3}400\b",
)  # fmt: skip


class GeminiProvider:
    name = "gemini"
    default_executable = "gemini"
    env_var = "LOKI_GEMINI_CMD"
    # FatalAuthenticationError 41, FatalInputError 42, FatalSandboxError 44, FatalConfigError 52.
    # Not 53 (turn limit) or 54 (a tool failed): another iteration may get further.
    fatal_exit_codes: frozenset[int] = frozenset({41, 42, 44, 52})

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
        self._handlers: dict[str, Callable[[Json], list[Fact]]] = {
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
        event = decode(line)
        if event is None:
            return [*self._flush(), Output(line)]  # warnings printed before the stream, etc.
        kind = event.get("type")
        if kind == "message" and event.get("role") == "assistant" and event.get("delta"):
            self._deltas.append(as_str(event.get("content")))
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

    def _on_init(self, event: Json) -> list[Fact]:
        self._model = as_str(event.get("model")) or None
        session = as_str(event.get("session_id"))
        return [Log("info", f"gemini session {session} started, model {self._model}")]

    def _on_message(self, event: Json) -> list[Fact]:
        role = event.get("role")
        if role == "user":
            return [Ignored("gemini.message.user_echo")]
        if role != "assistant":
            return [Ignored("gemini.message.unknown_role")]
        self._deltas.append(as_str(event.get("content")))  # a whole message, not a chunk
        return self._flush() or [Ignored("gemini.message.empty")]

    def _on_tool_use(self, event: Json) -> list[Fact]:
        tool = as_str(event.get("tool_name")) or "unknown_tool"
        self._tools[as_str(event.get("tool_id"))] = tool
        params = as_dict(event.get("parameters"))
        if tool != "write_todos":
            return [ToolUse(tool, tool_target(params, _TARGET_KEYS))]
        todos = params.get("todos")
        todos = todos if isinstance(todos, list) else []
        return [ToolUse(tool, f"{len(todos)} todo(s)"), *self._on_plan(todos)]

    def _on_plan(self, todos: list[object]) -> list[Fact]:
        """Each call re-sends the whole list; key items by their text so keys survive re-sends."""
        current: dict[str, TaskUpsert] = {}
        for item in as_dicts(todos):
            description = as_str(item.get("description")).strip()
            if not description:
                continue
            digest = hashlib.blake2s(" ".join(description.lower().split()).encode(), digest_size=6)
            key = base = f"todo-{digest.hexdigest()}"
            copies = 1
            while key in current:  # the same text twice: number the later copies in order
                copies += 1
                key = f"{base}-{copies}"
            status = _PLAN_STATUS.get(as_str(item.get("status")), "pending")
            current[key] = TaskUpsert(key, first_line(description, 100), status, description)
        # The list overwrites the old one, so an unfinished item left out was dropped.
        dropped = [
            replace(task, status="skipped")
            for key, task in self._plan.items()
            if key not in current and task.status not in ("completed", "skipped")
        ]
        self._plan = {**{task.key: task for task in dropped}, **current}
        return [*current.values(), *dropped]

    def _on_tool_result(self, event: Json) -> list[Fact]:
        if event.get("status") != "error":
            return [Ignored("gemini.tool_result.ok")]
        tool = self._tools.get(as_str(event.get("tool_id")), "tool")
        message = as_str(as_dict(event.get("error")).get("message"))
        return [Log("warn", f"{tool} failed: {message or 'no details'}")]

    def _on_error(self, event: Json) -> list[Fact]:
        message = as_str(event.get("message")) or "unknown error"
        if event.get("severity") == "warning":
            return [Log("warn", message)]
        self._pending_error = message
        return [Log("error", message)]

    def _on_result(self, event: Json) -> list[Fact]:
        facts = self._usage(event.get("stats"))
        if event.get("status") == "success":
            facts.append(Outcome(False, self._last_text, "success"))
        else:
            error = as_dict(event.get("error"))
            message = as_str(error.get("message")) or self._pending_error
            subtype = as_str(error.get("type")) or "error"
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
            prompt, cached = as_int(row.get("input_tokens")), as_int(row.get("cached"))
            fresh = as_int(row["input"]) if "input" in row else max(prompt - cached, 0)
            # output_tokens leaves out thinking tokens, which total_tokens (and the bill) include.
            output = max(as_int(row.get("output_tokens")), as_int(row.get("total_tokens")) - prompt)
            totals = (fresh, cached, output)
            seen = self._usage_so_far.get(model, (0, 0, 0))
            self._usage_so_far[model] = totals
            added = [max(now - before, 0) for now, before in zip(totals, seen, strict=True)]
            if any(added):
                name = model or self._model
                facts.append(Usage(added[0], added[2], cache_read_tokens=added[1], model=name))
        return facts
