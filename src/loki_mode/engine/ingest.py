"""Turns a provider's normalized facts into store writes and events, in order.

One sink per iteration. Each fact becomes a small write; the writes of one chunk
of output are queued on the store as one unit without waiting (units commit in
order, batched by the writer), so reading the provider's output never waits on
the disk and a burst of lines costs one store round trip, not one per line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from loki_mode.engine import markers
from loki_mode.events import NewEvent
from loki_mode.providers.base import (
    AgentFinished,
    AgentSpawned,
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
from loki_mode.store import Store, StoreTx

TASK_EVENTS = {"running": "task:started", "completed": "task:completed", "failed": "task:failed"}


@dataclass
class IterationState:
    """What the loop needs to know about the run once it ends."""

    outcome: Outcome | None = None
    rate_limit: RateLimited | None = None
    questions: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    phase: str | None = None


def task_events(session_id: str, change: Any) -> list[NewEvent]:
    data = {"taskId": change.task_id, "title": change.title, "status": change.status}
    out = []
    if change.created:
        out.append(NewEvent("task:created", session_id, data))
    if change.status != change.old_status:
        kind = TASK_EVENTS.get(change.status)
        if kind is not None:
            out.append(NewEvent(kind, session_id, data))
        elif not change.created:
            out.append(NewEvent("task:progress", session_id, data))
    return out


class FactSink:
    def __init__(
        self, store: Store, session_id: str, iteration: int, phase: str | None, verbose: bool
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.iteration = iteration
        self.main_agent = f"main-{iteration}"
        self.verbose = verbose
        self.state = IterationState(phase=phase)
        self.last: Future[Any] | None = None
        self.pending: list[Callable[[StoreTx], Any] | NewEvent] = []

    def _agent(self, agent_id: str | None) -> str:
        """Sub-agent ids are only unique within one run (Codex item ids), so scope them."""
        return f"{self.iteration}:{agent_id}" if agent_id else self.main_agent

    def _write(self, fn: Callable[[StoreTx], Any]) -> None:
        self.pending.append(fn)

    def _events(self, *events: NewEvent) -> None:
        self.pending.extend(events)

    def commit(self) -> None:
        """Queue everything fed since the last commit as one write."""
        if not self.pending:
            return
        writes, self.pending = self.pending, []

        def write_all(tx: StoreTx) -> None:
            for write in writes:
                if isinstance(write, NewEvent):
                    tx.append(write)
                else:
                    write(tx)

        self.last = self.store.submit(write_all)

    def feed(self, facts: list[Fact]) -> None:
        for fact in facts:
            handler = getattr(self, "_" + type(fact).__name__.lower())
            handler(fact)

    def _output(self, fact: Output) -> None:
        sid = self.session_id
        self.state.texts.append(fact.text)
        found = markers.scan(fact.text)
        self._events(
            NewEvent(
                "agent:output",
                sid,
                {
                    "text": fact.text,
                    "agentId": self._agent(fact.agent_id),
                    "iteration": self.iteration,
                },
            )
        )
        for phase in found.phases:
            self._phase(phase)
        for question in found.questions:
            self.state.questions.append(question)
            self._events(
                NewEvent(
                    "input:requested", sid, {"question": question, "iteration": self.iteration}
                )
            )

    def _phase(self, phase: str) -> None:
        old = self.state.phase
        if phase == old:
            return
        self.state.phase = phase
        sid = self.session_id

        def write(tx: StoreTx) -> None:
            if old is not None:
                tx.append(
                    NewEvent("phase:completed", sid, {"phase": old, "iteration": self.iteration})
                )
            tx.update_session(sid, current_phase=phase)
            tx.append(NewEvent("phase:started", sid, {"phase": phase, "iteration": self.iteration}))

        self._write(write)

    def _tooluse(self, fact: ToolUse) -> None:
        message = f"{fact.tool}: {fact.target}" if fact.target else fact.tool
        self._events(
            NewEvent(
                "log:info",
                self.session_id,
                {
                    "message": message,
                    "tool": fact.tool,
                    "target": fact.target,
                    "agentId": self._agent(fact.agent_id),
                },
            )
        )

    def _log(self, fact: Log) -> None:
        if fact.level != "debug" or self.verbose:
            self._events(NewEvent(f"log:{fact.level}", self.session_id, {"message": fact.message}))

    def _agentspawned(self, fact: AgentSpawned) -> None:
        sid = self.session_id
        agent_id = self._agent(fact.agent_id)

        def write(tx: StoreTx) -> None:
            tx.upsert_agent(
                sid,
                agent_id,
                type=fact.agent_type,
                description=fact.description,
                status="active",
                parent=self.main_agent,
                iteration=self.iteration,
            )
            tx.append(
                NewEvent(
                    "agent:spawned",
                    sid,
                    {
                        "agentId": agent_id,
                        "type": fact.agent_type,
                        "description": fact.description,
                        "parent": self.main_agent,
                    },
                )
            )

        self._write(write)

    def _agentfinished(self, fact: AgentFinished) -> None:
        sid = self.session_id
        status = "failed" if fact.failed else "completed"
        agent_id = self._agent(fact.agent_id)

        def write(tx: StoreTx) -> None:
            tx.upsert_agent(sid, agent_id, status=status)
            tx.append(
                NewEvent(
                    f"agent:{status}", sid, {"agentId": agent_id, "result": fact.result[:2000]}
                )
            )

        self._write(write)

    def _taskupsert(self, fact: TaskUpsert) -> None:
        sid = self.session_id

        def write(tx: StoreTx) -> None:
            change = tx.upsert_task(
                sid,
                f"plan:{fact.key}",
                title=fact.title,
                status=fact.status,
                description=fact.description,
                agent=self.main_agent,
            )
            for e in task_events(sid, change):
                tx.append(e)

        self._write(write)

    def _usage(self, fact: Usage) -> None:
        sid = self.session_id
        cost = fact.cost_usd or 0.0

        def write(tx: StoreTx) -> None:
            totals = tx.add_usage(
                sid,
                input_tokens=fact.input_tokens,
                output_tokens=fact.output_tokens,
                cache_read_tokens=fact.cache_read_tokens,
                cache_creation_tokens=fact.cache_creation_tokens,
                cost_usd=cost,
            )
            tx.append(
                NewEvent(
                    "metrics:update",
                    sid,
                    {
                        "iteration": self.iteration,
                        "model": fact.model,
                        "inputTokens": fact.input_tokens,
                        "outputTokens": fact.output_tokens,
                        "cacheReadTokens": fact.cache_read_tokens,
                        "costUsd": fact.cost_usd,
                        "totals": totals,
                    },
                )
            )

        self._write(write)

    def _ratelimited(self, fact: RateLimited) -> None:
        self.state.rate_limit = fact
        self._events(
            NewEvent(
                "log:warn",
                self.session_id,
                {
                    "message": f"Rate limit: {fact.message}",
                    "resetsAt": fact.resets_at,
                },
            )
        )

    def _outcome(self, fact: Outcome) -> None:
        self.state.outcome = fact
        if fact.text:
            self.state.texts.append(fact.text)
        if fact.is_error:
            self._events(
                NewEvent(
                    "log:error",
                    self.session_id,
                    {
                        "message": fact.text or fact.subtype or "the provider reported an error",
                        "subtype": fact.subtype,
                        "fatal": fact.fatal,
                    },
                )
            )

    def _ignored(self, fact: Ignored) -> None:
        if self.verbose:
            self._events(
                NewEvent("log:debug", self.session_id, {"message": f"ignored line ({fact.rule})"})
            )

    def log(self, level: str, message: str, **data: Any) -> None:
        self._events(NewEvent(f"log:{level}", self.session_id, {"message": message, **data}))

    async def flush(self) -> None:
        self.commit()
        if self.last is not None:
            await asyncio.wrap_future(self.last)
