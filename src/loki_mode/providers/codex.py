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

from loki_mode.providers._json import Json, as_dict, as_dicts, as_int, as_str, decode, one_line
from loki_mode.providers._limits import FATAL_WORDS, LIMIT_WORDS, reset_time, wording
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

# Sub-agent states after which the agent does no more work: finished well, or failed.
_AGENT_DONE, _AGENT_FAILED = {"completed", "shutdown"}, {"errored", "interrupted", "not_found"}
_RECONNECTING = re.compile(r"^\s*Reconnecting\.\.\.", re.I)
_RATE_LIMIT = wording(LIMIT_WORDS, r"limit reached", r"\b429\b")
_FATAL = wording(
    FATAL_WORDS,
    r"codex login", r"log in again", r"sign in again", r"api key", r"refresh token",
    r"quota exceeded", r"insufficient_quota", r"usage_not_included",
)  # fmt: skip
_RETRYABLE = re.compile(r"context_length_exceeded|context window", re.I)
_FATAL_STATUSES = {400, 401, 403, 404}
_WIDTH = 160  # characters of a tool target or an agent description
_STATUS_IN_TEXT = re.compile(r"\bstatus:?\s+(\d{3})\b", re.I)


class CodexProvider:
    name = "codex"
    default_executable = "codex"
    env_var = "LOKI_CODEX_CMD"
    # No exit code of `codex exec` means "do not retry"; the output tells failures apart.
    fatal_exit_codes: frozenset[int] = frozenset()

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
        body = (decode(message) if message.lstrip().startswith("{") else None) or {}
        error = as_dict(body.get("error"))
        status = body.get("status", error.get("status"))
        if not isinstance(status, int):
            found = _STATUS_IN_TEXT.search(message)
            status = int(found.group(1)) if found else None
        return cls(as_str(error.get("message")) or message, body, status)

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
        event = decode(line)
        if event is None:
            return [Output(line)]
        handler = self._events.get(as_str(event.get("type")))
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
        thread = as_str(event.get("thread_id"))
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
        message = as_str(error.get("message")) if isinstance(error, dict) else str(error or "")
        failure = _Failure.parse(message or "turn failed")
        outcome = Outcome(True, failure.text, "turn.failed", fatal=failure.fatal)
        return [*self._rate_limit(failure), outcome]

    def _error(self, event: Json) -> list[Fact]:
        message = as_str(event.get("message"))
        if _RECONNECTING.match(message):
            return [Log("warn", message)]  # Codex is still retrying on its own
        failure = _Failure.parse(message)
        return [Log("error", failure.text), *self._rate_limit(failure)]

    def _usage_delta(self, usage: Json) -> Usage:
        keys = ("input_tokens", "cached_input_tokens", "output_tokens")
        prompt_total, cached_total, output_total = (as_int(usage.get(k)) for k in keys)
        totals = (prompt_total, cached_total, output_total)
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
        records = (as_dict(failure.body.get("error")), failure.body)
        return [RateLimited(failure.text, reset_time(failure.raw, self._now(), *records))]

    # -- items ------------------------------------------------------------------------

    def _item(self, event: Json) -> list[Fact]:
        phase = as_str(event.get("type")).removeprefix("item.")
        item = as_dict(event.get("item"))
        handler = self._items.get(as_str(item.get("type")))
        if handler is None:
            return [Ignored("codex.item.unknown_type")]
        return handler(phase, item)

    def _agent_message(self, phase: str, item: Json) -> list[Fact]:
        text = as_str(item.get("text"))
        if phase != "completed" or not text:
            return [Ignored("codex.agent_message.partial")]
        self._last_message = text
        return [Output(text)]

    def _reasoning(self, phase: str, item: Json) -> list[Fact]:
        text = as_str(item.get("text"))
        if phase != "completed" or not text:
            return [Ignored("codex.reasoning.partial")]
        return [Log("debug", text)]

    def _error_item(self, phase: str, item: Json) -> list[Fact]:
        return [Log("warn", as_str(item.get("message")) or "codex reported an error item")]

    def _command(self, phase: str, item: Json) -> list[Fact]:
        target = _command_target(as_str(item.get("command")))
        code = item.get("exit_code")
        failed = as_str(item.get("status")) == "failed" or (isinstance(code, int) and code != 0)
        how = f"exited {code}" if isinstance(code, int) else "failed"
        return self._tool(phase, item, "shell", target, f"command {how}: {target}", failed)

    def _file_change(self, phase: str, item: Json) -> list[Fact]:
        changes = [
            f"{as_str(c.get('kind'))} {as_str(c.get('path'))}".strip()
            for c in as_dicts(item.get("changes"))
        ]
        target = one_line(", ".join(changes), _WIDTH)
        status = as_str(item.get("status"))
        failed = status in {"failed", "declined"}
        return self._tool(phase, item, "apply_patch", target, f"patch {status}: {target}", failed)

    def _mcp_tool_call(self, phase: str, item: Json) -> list[Fact]:
        tool = f"{as_str(item.get('server'))}.{as_str(item.get('tool'))}".strip(".")
        arguments = as_dict(item.get("arguments"))
        target = one_line(", ".join(f"{k}={v}" for k, v in arguments.items()), _WIDTH)
        error = as_str(as_dict(item.get("error")).get("message"))
        error = error or _result_text(item.get("result"))
        failed = as_str(item.get("status")) == "failed" or bool(item.get("error"))
        return self._tool(phase, item, tool, target, f"{tool} failed: {error}", failed)

    def _web_search(self, phase: str, item: Json) -> list[Fact]:
        action = as_dict(item.get("action"))
        found = (item.get("query"), action.get("query"), action.get("url"))
        target = next((text for text in map(as_str, found) if text), "")
        return self._tool(phase, item, "web_search", one_line(target, _WIDTH), "", failed=False)

    def _tool(
        self, phase: str, item: Json, tool: str, target: str, failure: str, failed: bool
    ) -> list[Fact]:
        """Announce a tool call once (started, or completed when no start was printed)."""
        facts: list[Fact] = []
        key = as_str(item.get("id")) or f"{tool}:{target}"
        if key not in self._announced:
            self._announced.add(key)
            facts.append(ToolUse(tool, target))
        if phase == "completed" and failed:
            facts.append(Log("warn", failure))
        return facts or [Ignored(f"codex.{as_str(item.get('type'))}.{phase}")]

    def _todo_list(self, phase: str, item: Json) -> list[Fact]:
        # Entries have no ids; the list item id plus the position is stable across re-sends.
        # Codex completes the list item when the turn ends, so then nothing is running.
        facts: list[Fact] = []
        running_slot_free = phase != "completed"
        for index, entry in enumerate(as_dicts(item.get("items"))):
            status: TaskStatus = "pending"
            if entry.get("completed") is True:
                status = "completed"
            elif running_slot_free:
                status, running_slot_free = "running", False
            key, title = f"{as_str(item.get('id')) or 'plan'}:{index}", as_str(entry.get("text"))
            if self._tasks.get(key) != (title, status):
                self._tasks[key] = (title, status)
                facts.append(TaskUpsert(key, title, status))
        return facts or [Ignored("codex.todo_list.unchanged")]

    def _collab_tool_call(self, phase: str, item: Json) -> list[Fact]:
        """Sub-agents: `spawn_agent` starts one; any call's `agents_states` may end it."""
        facts: list[Fact] = []
        item_id, tool = as_str(item.get("id")), as_str(item.get("tool"))
        threads = [t for t in item.get("receiver_thread_ids") or [] if isinstance(t, str)]
        if tool == "spawn_agent":
            self._agent_of_thread.update(dict.fromkeys(threads, item_id))
            if item_id not in self._announced:
                self._announced.add(item_id)
                self._open_agents.append(item_id)
                prompt = one_line(as_str(item.get("prompt")), _WIDTH)
                facts.append(AgentSpawned(item_id, "collab", prompt))
            if phase == "completed" and as_str(item.get("status")) == "failed":
                facts += self._end_agent(item_id, failed=True, result="spawn failed")
        elif item_id not in self._announced:
            self._announced.add(item_id)
            agents = [self._agent_of_thread.get(t, t) for t in threads]
            facts.append(ToolUse(tool, ", ".join(agents)))
        for thread, value in as_dict(item.get("agents_states")).items():
            state = as_dict(value)
            status, agent = as_str(state.get("status")), self._agent_of_thread.get(thread, "")
            if status in _AGENT_DONE | _AGENT_FAILED:
                result = as_str(state.get("message")) or status
                facts += self._end_agent(agent, status in _AGENT_FAILED, result)
        return facts or [Ignored(f"codex.collab_tool_call.{phase}")]

    def _end_agent(self, agent: str, failed: bool, result: str) -> list[Fact]:
        if agent not in self._open_agents:
            return []  # already finished, or not spawned in this run
        self._open_agents.remove(agent)
        return [AgentFinished(agent, failed=failed, result=result)]


def _command_target(command: str) -> str:
    """`/bin/zsh -lc 'git status'` reads better as `git status`."""
    try:
        parts = shlex.split(command)
    except ValueError:
        return one_line(command, _WIDTH)
    shells = {"bash", "zsh", "sh"}
    if len(parts) == 3 and parts[0].rsplit("/", 1)[-1] in shells and parts[1] in {"-lc", "-c"}:
        return one_line(parts[2], _WIDTH)
    return one_line(command, _WIDTH)


def _result_text(result: object) -> str:
    blocks = as_dicts(as_dict(result).get("content"))
    return " ".join(as_str(b.get("text")) for b in blocks).strip()
