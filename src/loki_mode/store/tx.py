"""Write operations on one SQLite connection, run by the store's writer thread."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import Counter
from typing import Any

import msgspec

from loki_mode.clock import now_iso
from loki_mode.events import NewEvent, StoredEvent
from loki_mode.store.base import TaskChange

_encode = msgspec.json.Encoder().encode

SESSION_FIELDS = frozenset(
    {
        "status",
        "pid",
        "pgid",
        "proc_started",
        "current_phase",
        "iteration",
        "reason",
        "runner_id",
        "finished_at",
        "prd_path",
    }
)
TASK_FIELDS = frozenset({"title", "description", "status", "priority", "agent", "output", "error"})
AGENT_FIELDS = frozenset({"type", "description", "status", "parent", "iteration"})
TASK_DONE = frozenset({"completed", "failed", "skipped"})
ACTIVE = ("starting", "running", "paused", "stopping")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class SqliteTx:
    def __init__(self, conn: sqlite3.Connection, next_seq: int) -> None:
        self.conn = conn
        self.next_seq = next_seq
        self.appended: list[StoredEvent] = []
        self.inserted = 0  # how many of `appended` are written to the events table

    def insert_session(
        self,
        session_id: str,
        *,
        provider: str,
        prd_path: str | None,
        project_dir: str,
        options: dict[str, Any],
        status: str,
    ) -> None:
        now = now_iso()
        self.conn.execute(
            "INSERT INTO sessions (id, provider, status, prd_path, project_dir, options,"
            " started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, provider, status, prd_path, project_dir, json.dumps(options), now, now),
        )

    def update_session(self, session_id: str, **fields: Any) -> None:
        unknown = set(fields) - SESSION_FIELDS
        if unknown:
            raise ValueError(f"not session fields: {sorted(unknown)}")
        fields["updated_at"] = now_iso()
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.conn.execute(
            f"UPDATE sessions SET {assignments} WHERE id = ?", (*fields.values(), session_id)
        )

    def session_options(self, session_id: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT options FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return json.loads(row[0]) if row else {}

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
        self.conn.execute(
            "UPDATE sessions SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,"
            " cache_read_tokens = cache_read_tokens + ?,"
            " cache_creation_tokens = cache_creation_tokens + ?, cost_usd = cost_usd + ?,"
            " updated_at = ? WHERE id = ?",
            (
                input_tokens,
                output_tokens,
                cache_read_tokens,
                cache_creation_tokens,
                cost_usd,
                now_iso(),
                session_id,
            ),
        )
        row = self.conn.execute(
            "SELECT input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, cost_usd"
            " FROM sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        keys = ("inputTokens", "outputTokens", "cacheReadTokens", "cacheCreationTokens", "costUsd")
        return dict(zip(keys, row or (0, 0, 0, 0, 0.0), strict=True))

    def delete_session(self, session_id: str) -> bool:
        self.insert_events()
        self.forget_events("session_id = ?", (session_id,))
        for table in ("tasks", "agents", "events", "controls"):
            self.conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (session_id,))
        self.conn.execute("DELETE FROM task_counts WHERE session_id = ?", (session_id,))
        return self.conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0

    def session_status(self, session_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT status FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return row[0] if row else None

    def active_session_in(self, project_dir: str) -> str | None:
        row = self.conn.execute(
            "SELECT id FROM sessions WHERE project_dir = ? AND status IN (?, ?, ?, ?) LIMIT 1",
            (project_dir, *ACTIVE),
        ).fetchone()
        return row[0] if row else None

    def task_status(self, session_id: str, key: str) -> str | None:
        row = self.conn.execute(
            "SELECT status FROM tasks WHERE session_id = ? AND key = ?", (session_id, key)
        ).fetchone()
        return row[0] if row else None

    def upsert_task(self, session_id: str, key: str, **fields: Any) -> TaskChange:
        unknown = set(fields) - TASK_FIELDS
        if unknown:
            raise ValueError(f"not task fields: {sorted(unknown)}")
        now = now_iso()
        row = self.conn.execute(
            "SELECT id, status, title, started_at FROM tasks WHERE session_id = ? AND key = ?",
            (session_id, key),
        ).fetchone()
        status = fields.get("status")
        if row is None:
            status = status or "pending"
            task_id = new_id("task")
            title = fields.get("title") or key
            self.conn.execute(
                "INSERT INTO tasks (id, session_id, key, title, description, status, priority,"
                " created_at, started_at, completed_at, agent, output, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task_id,
                    session_id,
                    key,
                    title,
                    fields.get("description") or "",
                    status,
                    fields.get("priority") or 0,
                    now,
                    now if status != "pending" and status != "queued" else None,
                    now if status in TASK_DONE else None,
                    fields.get("agent"),
                    fields.get("output"),
                    fields.get("error"),
                ),
            )
            return TaskChange(task_id, True, None, status, title)
        task_id, old_status, old_title, started_at = row
        if status and status not in ("pending", "queued") and started_at is None:
            fields["started_at"] = now
        if status in TASK_DONE and status != old_status:
            fields["completed_at"] = now
        elif status is not None and status not in TASK_DONE and old_status in TASK_DONE:
            fields["completed_at"] = None  # reopened: a later plan put it back to work
            if status in ("pending", "queued"):
                fields["started_at"] = None
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            self.conn.execute(
                f"UPDATE tasks SET {assignments} WHERE id = ?", (*fields.values(), task_id)
            )
        return TaskChange(
            task_id, False, old_status, status or old_status, fields.get("title") or old_title
        )

    def upsert_agent(self, session_id: str, agent_id: str, **fields: Any) -> bool:
        unknown = set(fields) - AGENT_FIELDS
        if unknown:
            raise ValueError(f"not agent fields: {sorted(unknown)}")
        exists = self.conn.execute(
            "SELECT 1 FROM agents WHERE session_id = ? AND id = ?", (session_id, agent_id)
        ).fetchone()
        now = now_iso()
        if exists is None:
            self.conn.execute(
                "INSERT INTO agents (session_id, id, type, description, status, parent, iteration,"
                " spawned_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    agent_id,
                    fields.get("type", "agent"),
                    fields.get("description", ""),
                    fields.get("status", "active"),
                    fields.get("parent"),
                    fields.get("iteration", 0),
                    now,
                    None if fields.get("status", "active") == "active" else now,
                ),
            )
            return True
        if fields.get("status") in ("completed", "failed"):
            fields["finished_at"] = now
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            self.conn.execute(
                f"UPDATE agents SET {assignments} WHERE session_id = ? AND id = ?",
                (*fields.values(), session_id, agent_id),
            )
        return False

    def finish_active_agents(self, session_id: str, status: str) -> list[str]:
        ids = [
            r[0]
            for r in self.conn.execute(
                "SELECT id FROM agents WHERE session_id = ? AND status = 'active'", (session_id,)
            )
        ]
        self.conn.execute(
            "UPDATE agents SET status = ?, finished_at = ? WHERE session_id = ? AND status = 'active'",
            (status, now_iso(), session_id),
        )
        return ids

    def append(self, event: NewEvent) -> StoredEvent:
        seq = self.next_seq
        payload = _encode(
            {
                "id": str(seq),
                "type": event.type,
                "timestamp": now_iso(),
                "sessionId": event.session_id,
                "data": event.data,
            }
        )
        self.next_seq = seq + 1
        stored = StoredEvent(seq, event.type, event.session_id, event.level, payload)
        self.appended.append(stored)
        return stored

    def insert_events(self) -> None:
        """Write the events appended since the last call: one statement for the whole batch."""
        rows = self.appended[self.inserted :]
        if not rows:
            return
        self.conn.executemany(
            "INSERT INTO events (seq, type, session_id, level, payload) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        self.conn.executemany(
            "INSERT INTO event_counts VALUES (?, ?) ON CONFLICT DO UPDATE SET n = n + excluded.n",
            Counter(e.type for e in rows).items(),
        )
        self.inserted = len(self.appended)

    def forget_events(self, where: str, params: tuple[Any, ...]) -> None:
        """Take the events about to be deleted off the counts."""
        self.conn.executemany(
            "UPDATE event_counts SET n = n - ? WHERE type = ?",
            [
                (n, type_)
                for type_, n in self.conn.execute(
                    f"SELECT type, COUNT(*) FROM events WHERE {where} GROUP BY type", params
                )
            ],
        )

    def add_control(self, session_id: str, kind: str, payload: dict[str, Any]) -> str:
        control_id = new_id("ctl")
        self.conn.execute(
            "INSERT INTO controls (id, session_id, kind, payload, state, created_at)"
            " VALUES (?, ?, ?, ?, 'pending', ?)",
            (control_id, session_id, kind, json.dumps(payload), now_iso()),
        )
        return control_id

    def set_control_state(self, control_id: str, state: str) -> None:
        self.conn.execute(
            "UPDATE controls SET state = ?, consumed_at = ? WHERE id = ?",
            (state, now_iso(), control_id),
        )

    def has_pending(self, session_id: str, kind: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM controls WHERE session_id = ? AND kind = ? AND state = 'pending' LIMIT 1",
            (session_id, kind),
        ).fetchone()
        return row is not None

    def cancel_controls(self, session_id: str) -> None:
        self.conn.execute(
            "UPDATE controls SET state = 'cancelled', consumed_at = ?"
            " WHERE session_id = ? AND state = 'pending'",
            (now_iso(), session_id),
        )
