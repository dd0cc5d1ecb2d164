"""What every provider adapter offers the engine, and the normalized facts it emits.

A provider knows two things: how to build the command line for one iteration,
and how to turn each line the CLI prints into normalized facts. The engine turns
those facts into store writes and events; it never looks inside a provider's
output itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from loki_mode.types import LogLevel, TaskStatus


@dataclass(frozen=True, slots=True)
class Output:
    """Assistant text meant for a human (becomes `agent:output`)."""

    text: str
    agent_id: str | None = None  # set when the text comes from inside a sub-agent


@dataclass(frozen=True, slots=True)
class ToolUse:
    """The agent used a tool (becomes `log:info` naming the tool and its target)."""

    tool: str
    target: str
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Log:
    """A line worth recording that is neither output nor a tool call."""

    level: LogLevel
    message: str


@dataclass(frozen=True, slots=True)
class AgentSpawned:
    """A sub-agent started (Claude Task/Agent tool, Codex collab spawn_agent)."""

    agent_id: str  # stable: the spawning tool-use / item id
    agent_type: str
    description: str


@dataclass(frozen=True, slots=True)
class AgentFinished:
    agent_id: str
    failed: bool
    result: str = ""


@dataclass(frozen=True, slots=True)
class TaskUpsert:
    """One entry of the agent's plan, keyed by a stable id within the iteration's session."""

    key: str
    title: str
    status: TaskStatus
    description: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage and cost of a finished turn; `cost_usd` is None when the CLI reports none.

    The four counts never overlap: `input_tokens` EXCLUDES cached prompt tokens, which are
    in `cache_read_tokens` (and tokens written to the cache in `cache_creation_tokens`).
    Claude reports them apart already; Codex and Gemini count cached tokens inside their
    input total, so their adapters subtract them. The prompt is input + both cache counts.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cost_usd: float | None = None
    model: str | None = None


@dataclass(frozen=True, slots=True)
class RateLimited:
    """The CLI says a rate or usage limit was hit; `resets_at` is epoch seconds when known."""

    message: str
    resets_at: float | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final result line of a run."""

    is_error: bool
    text: str = ""
    subtype: str = ""
    fatal: bool = False  # not worth retrying: auth, bad flags, unknown model


@dataclass(frozen=True, slots=True)
class Ignored:
    """A line deliberately dropped, with the name of the rule that drops it."""

    rule: str


Fact = (
    Output
    | ToolUse
    | Log
    | AgentSpawned
    | AgentFinished
    | TaskUpsert
    | Usage
    | RateLimited
    | Outcome
    | Ignored
)


class LineParser(Protocol):
    """Stateful parser for one provider run; one instance per iteration."""

    def feed(self, line: str) -> list[Fact]:
        """Classify one stdout line (without its newline); never raises."""

    def finish(self) -> list[Fact]:
        """Flush anything buffered once the stream has ended."""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """Per-provider settings for building a command line."""

    executable: Sequence[str]  # e.g. ("claude",) or shlex.split($LOKI_CLAUDE_CMD)
    model: str | None = None
    extra_args: Sequence[str] = field(default_factory=tuple)


class Provider(Protocol):
    name: str
    default_executable: str  # looked up on PATH for availability
    env_var: str  # e.g. LOKI_CLAUDE_CMD
    # Exit codes by which the CLI says "do not retry" (bad credentials, input or config),
    # whatever its output said; other failing exits are judged by the parsed Outcome.
    fatal_exit_codes: frozenset[int]

    def build_argv(self, prompt: str, spec: CommandSpec, cwd: str) -> list[str]: ...

    def parser(self) -> LineParser: ...
