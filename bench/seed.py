"""Seeding a store through its own API (SQLiteStore + StoreTx), before a server opens it.

Layout, the same at every scale so that what the probed endpoints return never
changes, only the data around it: `sessions` sessions, all finished (a server
recovers none of them); the probe session holds exactly 100 tasks and 10 per task
events, the others share the rest. Task statuses cycle completed x6, running,
pending, failed, skipped; events are mostly agent:output, some log:info and task:*.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

from loki_mode.events import NewEvent
from loki_mode.store import SQLiteStore, StoreTx

STATUSES = ("completed",) * 6 + ("running", "pending", "failed", "skipped")
SESSION_END = ("completed", "failed", "stopped")
PROBE_TASKS = 100
BATCH = 20000  # writes per transaction


@dataclass(frozen=True, slots=True)
class Seeded:
    tasks: int
    events: int
    sessions: int
    probe: str  # a session id whose tasks and events the per-session endpoints read


def _spread(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _event(sid: str, i: int) -> NewEvent:
    kind = i % 10
    if kind < 7:
        return NewEvent("agent:output", sid, {"text": f"seeded line {i}", "agentId": "main-1"})
    if kind < 9:
        return NewEvent("log:info", sid, {"message": f"Bash: step {i}", "tool": "Bash"})
    return NewEvent("task:progress", sid, {"taskId": f"t-{i}", "status": "running"})


Op = tuple[str, str, int, NewEvent | None]  # (kind, session id, index, event)


def _apply(tx: StoreTx, ops: list[Op], project: Path) -> None:
    for kind, sid, n, event in ops:
        if kind == "session":
            tx.insert_session(
                sid,
                provider="claude",
                prd_path=None,
                project_dir=str(project),
                options={"maxIterations": 1},
                status=SESSION_END[n % 3],
            )
            for a in range(3):
                tx.upsert_agent(sid, f"main-{a + 1}", type="claude", status="completed")
        elif kind == "task":
            tx.upsert_task(sid, f"plan:{n}", title=f"Task {n}", status=STATUSES[n % 10])
        elif event is not None:
            tx.append(event)


async def _seed(
    path: Path, tasks: int, events_per_task: int, sessions: int, project: Path
) -> Seeded:
    store = SQLiteStore(path)
    await store.open()
    try:
        ids = [str(uuid.UUID(int=n + 1, version=4)) for n in range(sessions)]
        probe = ids[sessions // 2]
        task_counts = _spread(tasks - PROBE_TASKS, sessions - 1)
        task_counts.insert(sessions // 2, PROBE_TASKS)
        ops: list[Op] = []

        async def flush(at_least: int) -> None:
            if len(ops) >= at_least:
                batch = list(ops)
                ops.clear()
                await store.transact(lambda tx: _apply(tx, batch, project))

        for n, (sid, count) in enumerate(zip(ids, task_counts, strict=True)):
            ops.append(("session", sid, n, None))
            for t in range(count):
                ops.append(("task", sid, t, None))
                await flush(BATCH)
            for e in range(count * events_per_task):
                ops.append(("event", sid, e, _event(sid, e)))
                await flush(BATCH)
        await flush(1)
    finally:
        await store.close()
    return Seeded(tasks, tasks * events_per_task, sessions, probe)


def seed(path: Path, *, tasks: int, events_per_task: int, sessions: int, project: Path) -> Seeded:
    if tasks < PROBE_TASKS + sessions - 1:
        raise ValueError(f"{tasks} tasks are too few for {sessions} sessions")
    return asyncio.run(_seed(path, tasks, events_per_task, sessions, project))
