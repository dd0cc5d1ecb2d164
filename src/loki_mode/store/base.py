"""The store interface: everything api/ and engine/ may ask of persistence.

Writes go through `transact(fn)`: `fn` receives a `StoreTx` and runs inside one
transaction on the store's writer, so a state change and the events describing
it commit together or not at all. Reads are async methods returning the spec's
models. A PostgreSQL implementation fills the same two protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from loki_mode.events import EventFilter, NewEvent, StoredEvent
from loki_mode.models import Agent, Session, Task

T = TypeVar("T")
Listener = Callable[[list[StoredEvent]], None]


@dataclass(frozen=True, slots=True)
class TaskChange:
    task_id: str
    created: bool
    old_status: str | None
    status: str
    title: str


@dataclass(frozen=True, slots=True)
class Control:
    id: str
    session_id: str
    kind: str
    payload: dict[str, Any]
    state: str
    created_at: str


class StoreTx(Protocol):
    """Synchronous write operations, valid only inside `Store.transact`."""

    def insert_session(
        self,
        session_id: str,
        *,
        provider: str,
        prd_path: str | None,
        project_dir: str,
        options: dict[str, Any],
        status: str,
    ) -> None: ...

    def update_session(self, session_id: str, **fields: Any) -> None: ...

    def session_options(self, session_id: str) -> dict[str, Any]: ...

    def add_usage(
        self,
        session_id: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        cache_creation_tokens: int,
        cost_usd: float,
    ) -> dict[str, Any]:
        """Add one turn's usage; returns the session's new totals."""

    def delete_session(self, session_id: str) -> bool: ...

    def session_status(self, session_id: str) -> str | None: ...

    def active_session_in(self, project_dir: str) -> str | None: ...

    def task_status(self, session_id: str, key: str) -> str | None: ...

    def upsert_task(self, session_id: str, key: str, **fields: Any) -> TaskChange: ...

    def upsert_agent(self, session_id: str, agent_id: str, **fields: Any) -> bool: ...

    def finish_active_agents(self, session_id: str, status: str) -> list[str]: ...

    def append(self, event: NewEvent) -> StoredEvent: ...

    def add_control(self, session_id: str, kind: str, payload: dict[str, Any]) -> str: ...

    def set_control_state(self, control_id: str, state: str) -> None: ...

    def has_pending(self, session_id: str, kind: str) -> bool: ...

    def cancel_controls(self, session_id: str) -> None: ...


class Store(Protocol):
    path: Path | None
    version: int
    """Changes after every commit: equal versions mean equal data (read caches key on it)."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` on the event loop with each batch of committed events."""

    async def transact(self, fn: Callable[[StoreTx], T]) -> T: ...

    def submit(self, fn: Callable[[StoreTx], T]) -> Future[T]:
        """Queue a write without waiting for it; writes commit in submission order."""

    async def get_session(self, session_id: str) -> Session | None: ...

    async def list_sessions(self) -> list[Session]: ...

    async def session_internals(self, session_id: str) -> dict[str, Any] | None:
        """What a runner needs beyond the public session: options, process group, phase."""

    async def sessions_with_status(self, statuses: Sequence[str]) -> list[Session]: ...

    async def session_counts(self) -> dict[str, int]: ...

    async def provider_totals(self) -> list[dict[str, Any]]:
        """Per provider: sessions, iterations, inputTokens, outputTokens, costUsd."""

    async def get_task(self, session_id: str, task_id: str) -> Task | None: ...

    async def list_tasks(
        self, session_id: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[Task], int]: ...

    async def task_counts(self, session_id: str | None) -> dict[str, int]: ...

    async def tasks_with_status(self, statuses: Sequence[str], limit: int) -> list[Task]: ...

    async def list_agents(
        self, session_id: str | None, active_only: bool = False
    ) -> list[Agent]: ...

    async def agent_counts(self, session_id: str | None) -> dict[str, int]: ...

    async def events_after(self, seq: int, flt: EventFilter, limit: int) -> list[StoredEvent]: ...

    async def recent_events(self, flt: EventFilter, limit: int) -> list[StoredEvent]:
        """The newest `limit` matching events, oldest first."""

    async def event_counts(self) -> dict[str, int]: ...

    async def last_seq(self) -> int: ...

    async def pending_controls(self, session_id: str) -> list[Control]: ...

    async def healthy(self) -> bool: ...

    def size_bytes(self) -> int: ...
