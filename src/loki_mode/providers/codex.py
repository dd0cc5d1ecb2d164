"""OpenAI Codex adapter: the `codex exec --json` command line and its JSONL event parser.

Codex prints one event per line: thread/turn lifecycle events, and
`item.started|updated|completed` events wrapping typed items (messages, commands,
file changes, the plan, sub-agent calls). Two quirks shape the parser: usage on
`turn.completed` is cumulative for the thread, so it emits deltas; and API errors
arrive as free text, sometimes a JSON body encoded inside the message string.
The stream shows only the main thread's items, so no fact carries an agent_id.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loki_mode.providers.base import (
    AgentFinished,
    AgentSpawned,
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

Json = dict[str, Any]

# Sub-agent states after which the agent does no more work: finished well, or failed.
_AGENT_DONE, _AGENT_FAILED = {"completed", "shutdown"}, {"errored", "interrupted", "not_found"}
_RECONNECTING = re.compile(r"^\s*Reconnecting\.\.\.", re.I)
_RATE_LIMIT = re.compile(
    r"(?:usage|rate|session|weekly|daily) limit|limit reached|usage_limit_reached|rate_limit"
    r"|too many requests|\b429\b",
    re.I,
)
_FATAL = re.compile(
    r"unauthori[sz]ed|not logged in|codex login|log in again|sign in again|authenticat"
    r"|api key|refresh token|invalid_request_error|model_not_found|unexpected argument"
    r"|unknown (?:flag|option|argument)|unrecognized (?:option|argument)|quota exceeded"
    r"|insufficient_quota|usage_not_included|model\b[^.]*\b(?:does not exist|not supported)",
    re.I,
)
_RETRYABLE = re.compile(r"context_length_exceeded|context window", re.I)
_FATAL_STATUSES = {400, 401, 403, 404}
_STATUS_IN_TEXT = re.compile(r"\bstatus:?\s+(\d{3})\b", re.I)

_SPAN = re.compile(
    r"(?:try again|retry|resets?)\s+(?:in|after)\s+((?:\d+(?:\.\d+)?\s*[a-z]+[\s,]*(?:and\s+)?)+)",
    re.I,
)
_SPAN_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)", re.I)
_UNITS = {
    0.001: "ms millisecond milliseconds",
    1: "s sec secs second seconds",
    60: "m min mins minute minutes",
    3600: "h hr hrs hour hours",
    86400: "d day days",
}
_UNIT_SECONDS = {name: size for size, names in _UNITS.items() for name in names.split()}
_RETRY_AFTER = re.compile(r"retry-after:?\s*(\d+(?:\.\d+)?)", re.I)
_CLOCK = re.compile(
    r"(?:try again at|resets?(?: at)?)\s+"
    r"(?:(?P<mon>[A-Z][a-z]{2})[a-z]*\.? (?P<day>\d{1,2})(?:st|nd|rd|th)?,? (?P<year>\d{4}),? )?"
    r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?(?::(?P<s>\d{2}))?\s*(?P<ampm>[ap]\.?m\b\.?)?"
    r"(?:\s*\((?P<tz>[A-Za-z_]+(?:/[A-Za-z_+-]+)*)\))?",
    re.I,
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


class CodexProvider:
    name = "codex"
    default_executable = "codex"
    env_var = "LOKI_CODEX_CMD"

    def build_argv(self, prompt: str, spec: CommandSpec, cwd: str) -> list[str]:
        argv = [*spec.executable, "exec", "--json", "--skip-git-repo-check"]
        argv.append("--dangerously-bypass-approvals-and-sandbox")
        if spec.model:
            argv += ["-m", spec.model]
        # `--` keeps a prompt that starts with "-" from being read as a flag.
        return [*argv, "-C", cwd, *spec.extra_args, "--", prompt]

    def parser(self) -> CodexParser:
        return CodexParser()


@dataclass(frozen=True, slots=True)
class _Failure:
    """An error message from Codex, with the API error body decoded when it carries one."""

    text: str
    body: Json
    status: int | None

    @classmethod
    def parse(cls, message: str) -> _Failure:
        body: Json = {}
        if message.lstrip().startswith("{"):
            try:
                body = _dict(json.loads(message))
            except ValueError:
                body = {}
        error = _dict(body.get("error"))
        status = body.get("status", error.get("status"))
        if not isinstance(status, int):
            found = _STATUS_IN_TEXT.search(message)
            status = int(found.group(1)) if found else None
        return cls(_str(error, "message") or message, body, status)

    @property
    def rate_limited(self) -> bool:
        return bool(_RATE_LIMIT.search(self.raw)) and not self.quota_or_plan

    @property
    def quota_or_plan(self) -> bool:
        # Quota and plan errors read like limits, but no wait fixes them.
        return bool(re.search(r"quota|usage_not_included", self.raw, re.I))

    @property
    def fatal(self) -> bool:
        if self.rate_limited or _RETRYABLE.search(self.raw):
            return False
        return self.status in _FATAL_STATUSES or bool(_FATAL.search(self.raw))

    @property
    def raw(self) -> str:
        return f"{self.text} {json.dumps(self.body)}" if self.body else self.text


class CodexParser:
    """Turns `codex exec --json` lines into facts; one instance per run."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._thread = ""
        self._usage_seen = (0, 0, 0)  # cumulative input, cached input, output
        self._tasks: dict[str, tuple[str, TaskStatus]] = {}
        self._announced: set[str] = set()
        self._agent_of_thread: dict[str, str] = {}
        self._open_agents: list[str] = []  # spawned, not yet finished, in spawn order
        self._limits_sent: set[str] = set()
        self._last_message = ""
        self._in_turn = False
        self._events: dict[str, Callable[[Json], list[Fact]]] = {
            "thread.started": self._thread_started,
            "turn.started": self._turn_started,
            "turn.completed": self._turn_completed,
            "turn.failed": self._turn_failed,
            "error": self._error,
            "item.started": self._item,
            "item.updated": self._item,
            "item.completed": self._item,
        }
        self._items: dict[str, Callable[[str, Json], list[Fact]]] = {
            "agent_message": self._agent_message,
            "reasoning": self._reasoning,
            "command_execution": self._command,
            "file_change": self._file_change,
            "mcp_tool_call": self._mcp_tool_call,
            "web_search": self._web_search,
            "todo_list": self._todo_list,
            "collab_tool_call": self._collab_tool_call,
            "error": self._error_item,
        }

    def feed(self, line: str) -> list[Fact]:
        if not line.strip():
            return [Ignored("codex.blank_line")]
        try:
            event = json.loads(line)
        except ValueError:
            return [Output(line)]
        if not isinstance(event, dict):
            return [Output(line)]
        handler = self._events.get(_str(event, "type"))
        if handler is None:
            return [Ignored("codex.unknown_type")]
        try:
            return handler(event)
        except Exception as exc:  # a malformed event must never stop the run
            return [Log("warn", f"codex: unreadable {event.get('type')} event ({exc!r})")]

    def finish(self) -> list[Fact]:
        # Sub-agents die with `codex exec`; one never waited on did not report back.
        facts: list[Fact] = [
            AgentFinished(agent, failed=True, result="codex exited before the agent finished")
            for agent in self._open_agents
        ]
        self._open_agents.clear()
        if self._in_turn:
            facts.append(Log("warn", "codex output ended inside a turn (interrupted)"))
            self._in_turn = False
        return facts

    # -- lifecycle events -------------------------------------------------------------

    def _thread_started(self, event: Json) -> list[Fact]:
        thread = _str(event, "thread_id")
        if self._thread and thread != self._thread:
            self._usage_seen = (0, 0, 0)  # usage counts per thread
        self._thread = thread
        return [Log("info", f"codex thread {thread} started")]

    def _turn_started(self, event: Json) -> list[Fact]:
        self._in_turn = True
        return [Ignored("codex.turn.started")]

    def _turn_completed(self, event: Json) -> list[Fact]:
        self._in_turn = False
        facts: list[Fact] = []
        usage = event.get("usage")
        if isinstance(usage, dict):
            facts.append(self._usage_delta(usage))
        facts.append(Outcome(is_error=False, text=self._last_message, subtype="turn.completed"))
        self._last_message = ""
        return facts

    def _turn_failed(self, event: Json) -> list[Fact]:
        self._in_turn = False
        error = event.get("error")
        message = _str(error, "message") if isinstance(error, dict) else str(error or "")
        failure = _Failure.parse(message or "turn failed")
        outcome = Outcome(True, failure.text, "turn.failed", fatal=failure.fatal)
        return [*self._rate_limit(failure), outcome]

    def _error(self, event: Json) -> list[Fact]:
        message = _str(event, "message")
        if _RECONNECTING.match(message):
            return [Log("warn", message)]  # Codex is still retrying on its own
        failure = _Failure.parse(message)
        return [Log("error", failure.text), *self._rate_limit(failure)]

    def _usage_delta(self, usage: Json) -> Usage:
        keys = ("input_tokens", "cached_input_tokens", "output_tokens")
        totals = (_int(usage, keys[0]), _int(usage, keys[1]), _int(usage, keys[2]))
        seen = self._usage_seen
        if any(now < before for now, before in zip(totals, seen, strict=True)):
            seen = (0, 0, 0)  # the counter restarted
        self._usage_seen = totals
        prompt, cached, output = (now - before for now, before in zip(totals, seen, strict=True))
        # OpenAI counts cached tokens inside input_tokens; Usage keeps them apart.
        return Usage(
            input_tokens=max(prompt - cached, 0), output_tokens=output, cache_read_tokens=cached
        )

    def _rate_limit(self, failure: _Failure) -> list[Fact]:
        # `error` and `turn.failed` repeat the same message; one RateLimited is enough.
        if not failure.rate_limited or failure.text in self._limits_sent:
            return []
        self._limits_sent.add(failure.text)
        return [RateLimited(failure.text, _reset_time(failure.raw, failure.body, self._now()))]

    # -- items ------------------------------------------------------------------------

    def _item(self, event: Json) -> list[Fact]:
        phase = _str(event, "type").removeprefix("item.")
        item = _dict(event.get("item"))
        handler = self._items.get(_str(item, "type"))
        if handler is None:
            return [Ignored("codex.item.unknown_type")]
        return handler(phase, item)

    def _agent_message(self, phase: str, item: Json) -> list[Fact]:
        text = _str(item, "text")
        if phase != "completed" or not text:
            return [Ignored("codex.agent_message.partial")]
        self._last_message = text
        return [Output(text)]

    def _reasoning(self, phase: str, item: Json) -> list[Fact]:
        text = _str(item, "text")
        if phase != "completed" or not text:
            return [Ignored("codex.reasoning.partial")]
        return [Log("debug", text)]

    def _error_item(self, phase: str, item: Json) -> list[Fact]:
        return [Log("warn", _str(item, "message") or "codex reported an error item")]

    def _command(self, phase: str, item: Json) -> list[Fact]:
        target = _command_target(_str(item, "command"))
        code = item.get("exit_code")
        failed = _str(item, "status") == "failed" or (isinstance(code, int) and code != 0)
        how = f"exited {code}" if isinstance(code, int) else "failed"
        return self._tool(phase, item, "shell", target, f"command {how}: {target}", failed)

    def _file_change(self, phase: str, item: Json) -> list[Fact]:
        changes = [_dict(c) for c in item.get("changes") or [] if isinstance(c, dict)]
        target = _short(", ".join(f"{_str(c, 'kind')} {_str(c, 'path')}".strip() for c in changes))
        status = _str(item, "status")
        failed = status in {"failed", "declined"}
        return self._tool(phase, item, "apply_patch", target, f"patch {status}: {target}", failed)

    def _mcp_tool_call(self, phase: str, item: Json) -> list[Fact]:
        tool = f"{_str(item, 'server')}.{_str(item, 'tool')}".strip(".")
        arguments = _dict(item.get("arguments"))
        target = _short(", ".join(f"{k}={v}" for k, v in arguments.items()))
        error = _str(_dict(item.get("error")), "message") or _result_text(item.get("result"))
        failed = _str(item, "status") == "failed" or bool(item.get("error"))
        return self._tool(phase, item, tool, target, f"{tool} failed: {error}", failed)

    def _web_search(self, phase: str, item: Json) -> list[Fact]:
        action = _dict(item.get("action"))
        target = _str(item, "query") or _str(action, "query") or _str(action, "url")
        return self._tool(phase, item, "web_search", _short(target), "", failed=False)

    def _tool(
        self, phase: str, item: Json, tool: str, target: str, failure: str, failed: bool
    ) -> list[Fact]:
        """Announce a tool call once (started, or completed when no start was printed)."""
        facts: list[Fact] = []
        key = _str(item, "id") or f"{tool}:{target}"
        if key not in self._announced:
            self._announced.add(key)
            facts.append(ToolUse(tool, target))
        if phase == "completed" and failed:
            facts.append(Log("warn", failure))
        return facts or [Ignored(f"codex.{_str(item, 'type')}.{phase}")]

    def _todo_list(self, phase: str, item: Json) -> list[Fact]:
        # Entries have no ids; the list item id plus the position is stable across re-sends.
        # Codex completes the list item when the turn ends, so then nothing is running.
        facts: list[Fact] = []
        running_slot_free = phase != "completed"
        entries = [e for e in item.get("items") or [] if isinstance(e, dict)]
        for index, entry in enumerate(entries):
            status: TaskStatus = "pending"
            if entry.get("completed") is True:
                status = "completed"
            elif running_slot_free:
                status, running_slot_free = "running", False
            key, title = f"{_str(item, 'id') or 'plan'}:{index}", _str(entry, "text")
            if self._tasks.get(key) != (title, status):
                self._tasks[key] = (title, status)
                facts.append(TaskUpsert(key, title, status))
        return facts or [Ignored("codex.todo_list.unchanged")]

    def _collab_tool_call(self, phase: str, item: Json) -> list[Fact]:
        """Sub-agents: `spawn_agent` starts one; any call's `agents_states` may end it."""
        facts: list[Fact] = []
        item_id, tool = _str(item, "id"), _str(item, "tool")
        threads = [t for t in item.get("receiver_thread_ids") or [] if isinstance(t, str)]
        if tool == "spawn_agent":
            self._agent_of_thread.update(dict.fromkeys(threads, item_id))
            if item_id not in self._announced:
                self._announced.add(item_id)
                self._open_agents.append(item_id)
                facts.append(AgentSpawned(item_id, "collab", _short(_str(item, "prompt"))))
            if phase == "completed" and _str(item, "status") == "failed":
                facts += self._end_agent(item_id, failed=True, result="spawn failed")
        elif item_id not in self._announced:
            self._announced.add(item_id)
            agents = [self._agent_of_thread.get(t, t) for t in threads]
            facts.append(ToolUse(tool, ", ".join(agents)))
        for thread, state in _dict(item.get("agents_states")).items():
            status, agent = _str(state, "status"), self._agent_of_thread.get(thread, "")
            if status in _AGENT_DONE | _AGENT_FAILED:
                result = _str(state, "message") or status
                facts += self._end_agent(agent, status in _AGENT_FAILED, result)
        return facts or [Ignored(f"codex.collab_tool_call.{phase}")]

    def _end_agent(self, agent: str, failed: bool, result: str) -> list[Fact]:
        if agent not in self._open_agents:
            return []  # already finished, or not spawned in this run
        self._open_agents.remove(agent)
        return [AgentFinished(agent, failed=failed, result=result)]


def _reset_time(text: str, body: Json, now: float) -> float | None:
    """Epoch seconds at which a limit named in `text` (or an API error `body`) lifts."""
    error = _dict(body.get("error"))
    for fields in (error, body):
        for key in ("resets_at", "resetsAt", "reset_at"):
            value = fields.get(key)
            if isinstance(value, int | float) and value > 0:
                return value / 1000 if value > 1e12 else float(value)
        for key in ("resets_in_seconds", "retry_after", "retry_after_seconds"):
            value = fields.get(key)
            if isinstance(value, int | float):
                return now + value
    if re.search(r"(?:try again|resets?) in less than a minute", text, re.I):
        return now + 60
    if span := _SPAN.search(text):
        parts = _SPAN_PART.findall(span.group(1))
        seconds = [
            float(n) * _UNIT_SECONDS[u.lower()] for n, u in parts if u.lower() in _UNIT_SECONDS
        ]
        if seconds:
            return now + sum(seconds)
    if retry_after := _RETRY_AFTER.search(text):
        return now + float(retry_after.group(1))
    for clock in _CLOCK.finditer(text):
        if clock.group("m") or clock.group("ampm"):
            return _clock_time(clock, now)
    return None


def _clock_time(clock: re.Match[str], now: float) -> float | None:
    zone: tzinfo | None = None
    if clock.group("tz"):
        try:
            zone = ZoneInfo(clock.group("tz"))
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
    # int() reads "08" as eight; only base-0 parsing would treat it as octal.
    hour, minute, second = (int(clock.group(g) or 0) for g in ("h", "m", "s"))
    if ampm := clock.group("ampm"):
        hour = hour % 12 + (12 if ampm.lower().startswith("p") else 0)
    # Without a named zone Codex prints local time; naive datetimes are local in timestamp().
    try:
        if clock.group("mon"):
            month = _MONTHS.index(clock.group("mon").lower()) + 1
            day, year = int(clock.group("day")), int(clock.group("year"))
            return datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp()
        today = datetime.fromtimestamp(now, zone)
        stamp = today.replace(hour=hour, minute=minute, second=second, microsecond=0)
    except ValueError:
        return None
    if stamp.timestamp() < now - 60:  # a clock time already past means tomorrow
        stamp += timedelta(days=1)
    return stamp.timestamp()


def _command_target(command: str) -> str:
    """`/bin/zsh -lc 'git status'` reads better as `git status`."""
    try:
        parts = shlex.split(command)
    except ValueError:
        return _short(command)
    shells = {"bash", "zsh", "sh"}
    if len(parts) == 3 and parts[0].rsplit("/", 1)[-1] in shells and parts[1] in {"-lc", "-c"}:
        return _short(parts[2])
    return _short(command)


def _result_text(result: Any) -> str:
    blocks = _dict(result).get("content") or []
    return " ".join(_str(b, "text") for b in blocks if isinstance(b, dict)).strip()


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _str(obj: Any, key: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else ""


def _int(obj: Json, key: str) -> int:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
