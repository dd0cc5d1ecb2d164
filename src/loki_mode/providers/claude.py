"""Claude Code: `claude -p PROMPT --output-format stream-json --verbose` and its JSON lines.

Line types: `system` (init, hooks, background-task lifecycle), `assistant` and `user`
(message content blocks), `result` (one per turn cycle; a process that wakes up for a
background agent prints two), `rate_limit_event`, and `stream_event` partials when
`--include-partial-messages` is on. Sub-agents are `Task`/`Agent` tool calls; the plan
is `TodoWrite` (whole list each time) or `TaskCreate`/`TaskUpdate` (one item at a time).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable

from loki_mode.providers._json import (
    Json,
    as_dict,
    as_dicts,
    as_int,
    as_str,
    clip,
    decode,
    tool_target,
)
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
from loki_mode.types import LogLevel, TaskStatus

Totals = tuple[int, int, int, int, float]  # input, output, cache read, cache creation, cost

_STATUS: dict[str, TaskStatus] = {
    "pending": "pending", "in_progress": "running", "completed": "completed",
    "failed": "failed", "cancelled": "skipped", "deleted": "skipped",
}  # fmt: skip
_AGENT_TOOLS = frozenset({"Task", "Agent"})
# Parameter names that say what a tool acts on, most telling first.
_TARGET_KEYS = (
    "file_path", "notebook_path", "command", "pattern", "url", "query", "path",
    "subject", "description", "skill", "prompt",
)  # fmt: skip

_LIMIT_TEXT = wording(LIMIT_WORDS)
_FATAL_TEXT = wording(
    FATAL_WORDS, r"/login", r"oauth token", r"issue with the selected model", r"not_found_error"
)
_FATAL_STATUS = frozenset({400, 401, 403, 404})
_FATAL_ERRORS = frozenset({"authentication_failed", "invalid_request", "billing_error"})


class ClaudeProvider:
    name = "claude"
    default_executable = "claude"
    env_var = "LOKI_CLAUDE_CMD"
    # No exit code of print mode means "do not retry"; the output tells failures apart.
    fatal_exit_codes: frozenset[int] = frozenset()

    def build_argv(self, prompt: str, spec: CommandSpec, cwd: str) -> list[str]:
        # The CLI works in its process cwd, which the engine sets; no flag names it.
        argv = [*spec.executable, "-p", prompt, "--output-format", "stream-json", "--verbose"]
        argv.append("--dangerously-skip-permissions")
        if spec.model:
            argv += ["--model", spec.model]
        return [*argv, *spec.extra_args]

    def parser(self) -> ClaudeLineParser:
        return ClaudeLineParser()


class ClaudeLineParser:
    """One run's stream; the clock is injectable so reset times can be tested."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._session = ""
        self._model: str | None = None
        self._tools: dict[str, str] = {}  # tool_use id -> tool name
        self._agents: dict[str, bool] = {}  # spawning tool_use id -> runs in background
        self._finished: set[str] = set()
        self._bg_tasks: dict[str, str] = {}  # background task_id -> spawning tool_use id
        self._creates: dict[str, tuple[str, str]] = {}  # TaskCreate id -> (subject, description)
        self._plan: dict[str, TaskUpsert] = {}  # last upsert per key: unchanged re-sends are noise
        self._seen: dict[tuple[str, str], Totals] = {}  # (session, model) -> cumulative so far
        # message id -> (model, usage) of turns no result line has counted yet
        self._unbilled: dict[str, tuple[str | None, Json]] = {}
        self._reset_at: float | None = None
        self._fatal_hint = False

    def feed(self, line: str) -> list[Fact]:
        try:
            facts = self._classify(line)
        except Exception as exc:  # a malformed line must never stop the run
            facts = [Log("warn", f"claude: could not read line ({type(exc).__name__}: {exc})")]
        return facts or [Ignored("claude.no_content")]

    def finish(self) -> list[Fact]:
        """Usage of turns no result line counted (the run was cut short)."""
        totals: dict[str | None, list[int]] = {}
        for model, usage in self._unbilled.values():
            row = totals.setdefault(model, [0, 0, 0, 0])
            for i, n in enumerate(_tokens(usage)):
                row[i] += n
        self._unbilled.clear()
        return [Usage(i, o, r, c, None, m) for m, (i, o, r, c) in totals.items()]

    def _classify(self, line: str) -> list[Fact]:
        if not line.strip():
            return [Ignored("claude.blank")]
        obj = decode(line)
        if obj is None:
            return self._plain(line)
        match obj.get("type"):
            case "assistant":
                return self._assistant(obj)
            case "user":
                return self._user(obj)
            case "result":
                return self._result(obj)
            case "system":
                return self._system(obj)
            case "rate_limit_event":
                return self._rate_limit_event(as_dict(obj.get("rate_limit_info")))
            case "stream_event":
                return [Ignored("claude.stream_event.partial")]  # the whole message follows
            case "control_request" | "control_response" | "keep_alive":
                return [Ignored("claude.control")]
            case _:
                return [Ignored("claude.unknown_type")]

    def _plain(self, line: str) -> list[Fact]:
        facts: list[Fact] = [Output(line)]
        if _LIMIT_TEXT.search(line):  # old CLIs print "Claude AI usage limit reached|<epoch>"
            facts += self._limited(line.strip())
        return facts

    def _assistant(self, obj: Json) -> list[Fact]:
        msg = as_dict(obj.get("message"))
        agent = as_str(obj.get("parent_tool_use_id")) or None
        model = as_str(msg.get("model")) or None
        # CLI-made messages (errors, local commands) are not the model speaking.
        synthetic = (
            model == "<synthetic>" or bool(obj.get("error")) or "local_command_outcome" in obj
        )
        if isinstance(msg.get("usage"), dict) and not synthetic:
            self._unbilled[as_str(msg.get("id")) or as_str(obj.get("uuid"))] = (model, msg["usage"])
        facts: list[Fact] = []
        for block in as_dicts(msg.get("content")):
            text = as_str(block.get("text"))
            if block.get("type") == "text" and text.strip():
                facts += self._cli_notice(obj, text) if synthetic else [Output(text, agent)]
            elif block.get("type") == "tool_use":
                facts += self._tool_use(block, agent)
        return facts or [Ignored("claude.assistant.thinking")]

    def _cli_notice(self, obj: Json, text: str) -> list[Fact]:
        error = as_str(obj.get("error"))
        command = as_str(as_dict(obj.get("local_command_run")).get("command"))
        if as_dict(obj.get("local_command_outcome")).get("kind") == "failed":
            return [Log("warn", f"/{command} failed: {text}")]
        if not error:
            return [Log("info", text)]
        self._fatal_hint = self._fatal_hint or error in _FATAL_ERRORS
        facts: list[Fact] = [Log("error", f"{error}: {text}")]
        if error == "rate_limit" or _LIMIT_TEXT.search(text):
            facts += self._limited(text)
        return facts

    def _tool_use(self, block: Json, agent: str | None) -> list[Fact]:
        tool_id, args = as_str(block.get("id")), as_dict(block.get("input"))
        name = as_str(block.get("name")) or "tool"
        self._tools[tool_id] = name
        facts: list[Fact] = [ToolUse(name, _target(name, args), agent)]
        if name in _AGENT_TOOLS:
            self._agents[tool_id] = args.get("run_in_background") is True
            kind = as_str(args.get("subagent_type")) or "general-purpose"
            facts.append(AgentSpawned(tool_id, kind, as_str(args.get("description"))))
        elif name == "TodoWrite":
            facts += self._todo_write(as_dicts(args.get("todos")))
        elif name == "TaskCreate":  # the id arrives with the result
            self._creates[tool_id] = (as_str(args.get("subject")), as_str(args.get("description")))
        elif name == "TaskUpdate" and as_str(args.get("taskId")):
            facts += self._task_update(args)
        return facts

    def _todo_write(self, todos: list[Json]) -> list[Fact]:
        # Keys come from the text, so a re-sent or reordered list maps onto the same tasks.
        facts: list[Fact] = []
        repeats: dict[str, int] = {}
        for item in todos:
            title = as_str(item.get("content"))
            digest = hashlib.sha1(title.encode(), usedforsecurity=False).hexdigest()[:12]
            repeats[digest] = repeats.get(digest, 0) + 1
            key = f"todo:{digest}" + (f"~{repeats[digest]}" if repeats[digest] > 1 else "")
            facts += self._upsert(
                key, title, _status(item.get("status")), as_str(item.get("activeForm"))
            )
        return facts

    def _task_update(self, args: Json) -> list[Fact]:
        task_id = as_str(args.get("taskId"))
        known = self._plan.get(f"task:{task_id}")
        title = as_str(args.get("subject")) or (known.title if known else f"Task #{task_id}")
        status = known.status if known else "pending"
        status = _status(args["status"]) if "status" in args else status
        description = as_str(args.get("description")) or (known.description if known else "")
        return self._upsert(f"task:{task_id}", title, status, description)

    def _upsert(self, key: str, title: str, status: TaskStatus, description: str) -> list[Fact]:
        fact = TaskUpsert(key, title, status, description)
        if self._plan.get(key) == fact:
            return []
        self._plan[key] = fact
        return [fact]

    def _user(self, obj: Json) -> list[Fact]:
        blocks = as_dicts(as_dict(obj.get("message")).get("content"))
        results = [b for b in blocks if b.get("type") == "tool_result"]
        facts: list[Fact] = []
        for block in results:
            facts += self._tool_result(block, as_dict(obj.get("tool_use_result")))
        return facts or [Ignored("claude.user.tool_result" if results else "claude.user.prompt")]

    def _tool_result(self, block: Json, extra: Json) -> list[Fact]:
        use_id, failed = as_str(block.get("tool_use_id")), block.get("is_error") is True
        text = _content_text(block.get("content"))
        if use_id in self._agents and use_id not in self._finished:
            if self._agents[use_id] and not failed:  # only says the background agent launched
                return [Log("debug", f"background agent {use_id} launched")]
            self._finished.add(use_id)
            return [AgentFinished(use_id, failed, text)]
        if use_id in self._creates:
            subject, description = self._creates.pop(use_id)
            found = re.search(r"Task #(\w+) created", text)
            task_id = found.group(1) if found else as_str(as_dict(extra.get("task")).get("id"))
            if task_id and not failed:
                return self._upsert(f"task:{task_id}", subject or text, "pending", description)
        if failed:
            return [Log("warn", f"{self._tools.get(use_id, 'tool')} failed: {clip(text, 300)}")]
        return []

    def _system(self, obj: Json) -> list[Fact]:
        subtype = as_str(obj.get("subtype"))
        if subtype == "init":
            return self._init(obj)
        if subtype == "task_started" and as_str(obj.get("tool_use_id")) in self._agents:
            self._bg_tasks[as_str(obj.get("task_id"))] = as_str(obj.get("tool_use_id"))
        if subtype in ("task_started", "task_progress"):
            return [Log("debug", f"{subtype}: {as_str(obj.get('description'))}")]
        if subtype == "task_updated":
            return [Ignored("claude.system.task_updated")]  # task_notification repeats it
        if subtype == "task_notification":
            return self._task_notification(obj)
        if subtype == "hook_response":
            ok = obj.get("exit_code") in (0, None) and obj.get("outcome") in ("success", None)
            name, outcome = as_str(obj.get("hook_name")), as_str(obj.get("outcome"))
            return [Log("debug" if ok else "warn", f"hook {name}: {outcome}")]
        if subtype == "compact_boundary":
            return [Log("info", "context compacted")]
        if subtype in ("status", "hook_started"):
            return [Ignored(f"claude.system.{subtype}")]
        return [Ignored("claude.system.unknown_subtype")]

    def _init(self, obj: Json) -> list[Fact]:
        session = as_str(obj.get("session_id"))
        self._model = as_str(obj.get("model")) or self._model
        if session and session == self._session:
            return [Ignored("claude.system.init_repeat")]  # newer CLIs re-send it every turn
        self._session = session
        version = as_str(obj.get("claude_code_version")) or "?"
        where = as_str(obj.get("cwd"))
        return [Log("info", f"claude {version} session {session} model {self._model} in {where}")]

    def _task_notification(self, obj: Json) -> list[Fact]:
        task_id, status = as_str(obj.get("task_id")), as_str(obj.get("status"))
        summary = as_str(obj.get("summary"))
        agent_id = as_str(obj.get("tool_use_id")) or self._bg_tasks.get(task_id, "")
        if agent_id in self._agents and agent_id not in self._finished:
            self._finished.add(agent_id)
            return [AgentFinished(agent_id, status != "completed", summary)]
        return [Log("info", f"background task {task_id} {status}: {clip(summary, 300)}")]

    def _rate_limit_event(self, info: Json) -> list[Fact]:
        status, kind = as_str(info.get("status")), as_str(info.get("rateLimitType")) or "rate"
        # Some emitters give no status, only counters; a counter at zero is a rejection.
        exhausted = any(k.endswith("_remaining") and v == 0 for k, v in info.items())
        if status == "rejected" or (not status and exhausted):
            return self._limited(f"{kind} limit reached", info)
        level: LogLevel = "warn" if status == "allowed_warning" else "debug"
        used = f" ({info['utilization']} used)" if "utilization" in info else ""
        return [Log(level, f"{kind} limit: {status}{used}")]

    def _limited(self, message: str, info: Json | None = None) -> list[Fact]:
        resets_at = reset_time(message, self._clock(), *([info] if info else []))
        # A message naming no time keeps the reset time an earlier line of this run named.
        resets_at = self._reset_at = resets_at if resets_at is not None else self._reset_at
        return [RateLimited(message, resets_at)]

    def _result(self, obj: Json) -> list[Fact]:
        subtype = as_str(obj.get("subtype"))
        flag = obj.get("is_error")
        is_error = flag if isinstance(flag, bool) else subtype != "success"
        errors = obj.get("errors")
        text = as_str(obj.get("result")) or (
            "; ".join(map(as_str, errors)) if isinstance(errors, list) else ""
        )
        facts = self._result_usage(obj)
        self._unbilled.clear()
        status = obj.get("api_error_status")
        limited = is_error and (status == 429 or bool(_LIMIT_TEXT.search(text)))
        if limited:
            facts += self._limited(text or "rate limited")
        hint, self._fatal_hint = self._fatal_hint, False
        fatal = hint or status in _FATAL_STATUS or bool(_FATAL_TEXT.search(text))
        return [*facts, Outcome(is_error, text, subtype, is_error and not limited and fatal)]

    def _result_usage(self, obj: Json) -> list[Fact]:
        """`modelUsage` counts every model (sub-agents included) since the process started,
        so each result contributes what grew since the previous one."""
        per_model = {m: u for m, u in as_dict(obj.get("modelUsage")).items() if isinstance(u, dict)}
        if not per_model or not all("costUSD" in u for u in per_model.values()):
            usage, cost = as_dict(obj.get("usage")), obj.get("total_cost_usd")
            cost_usd = float(cost) if isinstance(cost, int | float) else None
            return [Usage(*_tokens(usage), cost_usd=cost_usd, model=self._model)]
        facts: list[Fact] = []
        for model, u in sorted(per_model.items()):
            now: Totals = (
                as_int(u.get("inputTokens")), as_int(u.get("outputTokens")),
                as_int(u.get("cacheReadInputTokens")), as_int(u.get("cacheCreationInputTokens")),
                float(u["costUSD"]) if isinstance(u["costUSD"], int | float) else 0.0,
            )  # fmt: skip
            before = self._seen.get((self._session, model), (0, 0, 0, 0, 0.0))
            if any(n < b for n, b in zip(now, before, strict=True)):
                before = (0, 0, 0, 0, 0.0)  # counters went back: a new process or session
            self._seen[(self._session, model)] = now
            i, o, r, c, cost = (n - b for n, b in zip(now, before, strict=True))
            if any((i, o, r, c, cost)):
                facts.append(
                    Usage(int(i), int(o), int(r), int(c), cost_usd=float(cost), model=model)
                )
        return facts


def _target(name: str, args: Json) -> str:
    if name == "TodoWrite":
        return f"{len(as_dicts(args.get('todos')))} items"
    if name == "TaskUpdate":
        return f"#{as_str(args.get('taskId'))} {as_str(args.get('status'))}".strip()
    return tool_target(args, _TARGET_KEYS)


def _tokens(usage: Json) -> tuple[int, int, int, int]:
    return (
        as_int(usage.get("input_tokens")),
        as_int(usage.get("output_tokens")),
        as_int(usage.get("cache_read_input_tokens")),
        as_int(usage.get("cache_creation_input_tokens")),
    )


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(as_str(b.get("text")) for b in as_dicts(content) if b.get("type") == "text")


def _status(value: object) -> TaskStatus:
    return _STATUS.get(as_str(value), "pending")
