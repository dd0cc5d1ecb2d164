"""The embedded store: SQLite in WAL mode, one writer thread fed by a queue.

Writes queue up for a single writer thread, which commits whatever has queued in
one transaction (each write inside its own savepoint), so bursts of appends cost
one fsync-free commit instead of hundreds. Reads run on the event loop's own
connection: under WAL they never wait on the writer, and every read is indexed
and bounded by a limit, so each takes microseconds; a thread hop would cost more
than the query.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from loki_mode.errors import StoreError
from loki_mode.events import EventFilter, StoredEvent
from loki_mode.models import Agent, Session, Task
from loki_mode.store.base import Control, Listener, StoreTx
from loki_mode.store.schema import MIGRATIONS
from loki_mode.store.tx import SqliteTx

T = TypeVar("T")
BATCH_MAX = 2000

SESSION_COLUMNS = (
    "s.id, s.prd_path, s.provider, s.status, s.started_at, s.updated_at, s.pid, s.current_phase,"
    " COALESCE((SELECT SUM(n) FROM task_counts c WHERE c.session_id = s.id), 0),"
    " COALESCE((SELECT n FROM task_counts c WHERE c.session_id = s.id AND c.status = 'completed'), 0),"
    " s.project_dir, s.iteration, s.reason, s.options, s.input_tokens, s.output_tokens, s.cost_usd,"
    " s.finished_at"
)
TASK_COLUMNS = (
    "id, session_id, title, description, status, priority, created_at, started_at, completed_at,"
    " agent, output, error"
)
AGENT_COLUMNS = (
    "id, session_id, type, description, status, spawned_at, finished_at, parent, iteration"
)


def _session(row: tuple[Any, ...]) -> Session:
    return Session(
        id=row[0],
        prd_path=row[1],
        provider=row[2],
        status=row[3],
        started_at=row[4],
        updated_at=row[5],
        pid=row[6],
        current_phase=row[7],
        task_count=row[8],
        completed_tasks=row[9],
        project_dir=row[10],
        iteration=row[11],
        reason=row[12],
        dry_run=bool(json.loads(row[13]).get("dryRun")),
        input_tokens=row[14],
        output_tokens=row[15],
        cost_usd=row[16],
        finished_at=row[17],
    )


def _task(row: tuple[Any, ...]) -> Task:
    return Task(
        id=row[0],
        session_id=row[1],
        title=row[2],
        description=row[3],
        status=row[4],
        priority=row[5],
        created_at=row[6],
        started_at=row[7],
        completed_at=row[8],
        agent=row[9],
        output=row[10],
        error=row[11],
    )


def _agent(row: tuple[Any, ...]) -> Agent:
    return Agent(
        id=row[0],
        session_id=row[1],
        type=row[2],
        description=row[3],
        status=row[4],
        spawned_at=row[5],
        finished_at=row[6],
        parent=row[7],
        iteration=row[8],
    )


def _event_where(flt: EventFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if flt.session_id is not None:
        clauses.append("session_id = ?")
        params.append(flt.session_id)
    if not flt.any_type:
        alternatives = []
        if flt.types:
            alternatives.append(f"type IN ({','.join('?' * len(flt.types))})")
            params.extend(sorted(flt.types))
        for prefix in flt.prefixes:
            alternatives.append("type >= ? AND type < ?")
            params.extend((prefix, prefix + "\uffff"))
        clauses.append("(" + " OR ".join(alternatives) + ")")
    if flt.min_level is not None:
        clauses.append("(level IS NULL OR level >= ?)")
        params.append(flt.min_level)
    return (" AND " + " AND ".join(clauses) if clauses else ""), params


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the store at {path}: {exc}") from exc
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")


class SQLiteStore:
    def __init__(self, path: Path, *, retention: int | None = None) -> None:
        self.path: Path | None = path
        self._retention = retention
        self._queue: queue.SimpleQueue[tuple[Callable[[StoreTx], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._listeners: list[Listener] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._read: sqlite3.Connection | None = None
        self.version = 0  # bumped by the writer after every commit

    # --- lifecycle -------------------------------------------------------

    async def open(self) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._loop = asyncio.get_running_loop()
        writer = _connect(self.path)
        try:
            _migrate(writer)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot migrate the store at {self.path}: {exc}") from exc
        next_seq = writer.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events").fetchone()[0]
        self._read = _connect(self.path)
        self._read.execute("PRAGMA query_only=1")
        self._thread = threading.Thread(
            target=self._write_loop, args=(writer, next_seq), name="loki-store-writer", daemon=True
        )
        self._thread.start()

    async def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self._read is not None:
            self._read.close()
            self._read = None

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    # --- writes ----------------------------------------------------------

    def submit(self, fn: Callable[[StoreTx], T]) -> Future[T]:
        future: Future[T] = Future()
        if self._thread is None:
            future.set_exception(StoreError("the store is closed"))
        else:
            self._queue.put((fn, future))
        return future

    async def transact(self, fn: Callable[[StoreTx], T]) -> T:
        return await asyncio.wrap_future(self.submit(fn))

    def _write_loop(self, conn: sqlite3.Connection, next_seq: int) -> None:
        tx = SqliteTx(conn, next_seq)
        since_prune = 0
        while True:
            item = self._queue.get()
            batch = [item]
            while item is not None and len(batch) < BATCH_MAX:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
            # A caller that was cancelled while its write waited here gets no write; the
            # rest become RUNNING, so a late cancel can no longer make set_result raise
            # (which would kill this thread and hang every later transaction).
            work = [b for b in batch if b is not None and b[1].set_running_or_notify_cancel()]
            if work:
                since_prune += self._commit(conn, tx, work)
                if self._retention is not None and since_prune >= 1000:
                    since_prune = 0
                    self._prune(conn, tx, tx.next_seq - 1 - self._retention)
            if None in batch:
                conn.close()
                return

    def _commit(
        self,
        conn: sqlite3.Connection,
        tx: SqliteTx,
        work: list[tuple[Callable[[StoreTx], Any], Future[Any]]],
    ) -> int:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, future in work:
                mark_seq, mark_len, mark_inserted = tx.next_seq, len(tx.appended), tx.inserted
                conn.execute("SAVEPOINT w")
                try:
                    result = fn(tx)
                except Exception as exc:
                    conn.execute("ROLLBACK TO w")
                    conn.execute("RELEASE w")
                    tx.next_seq = mark_seq
                    del tx.appended[mark_len:]
                    tx.inserted = mark_inserted
                    outcomes.append(
                        (
                            future,
                            None,
                            StoreError(str(exc)) if isinstance(exc, sqlite3.Error) else exc,
                        )
                    )
                else:
                    conn.execute("RELEASE w")
                    outcomes.append((future, result, None))
            tx.insert_events()
            conn.execute("COMMIT")
            self.version += 1  # after the commit: a reader never pairs new data with an old version
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            tx.next_seq -= len(tx.appended)
            tx.appended.clear()
            tx.inserted = 0
            for _, future in work:
                if not future.done():
                    future.set_exception(StoreError(f"commit failed: {exc}"))
            return 0
        appended, tx.appended, tx.inserted = tx.appended, [], 0
        if appended and self._loop is not None:
            for listener in self._listeners:
                self._loop.call_soon_threadsafe(listener, appended)
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
        return len(appended)

    def _prune(self, conn: sqlite3.Connection, tx: SqliteTx, below: int) -> None:
        if below <= 0:
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            tx.forget_events("seq <= ?", (below,))
            conn.execute("DELETE FROM events WHERE seq <= ?", (below,))
            conn.execute("COMMIT")
            self.version += 1
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    # --- reads -----------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self._read is None:
            raise StoreError("the store is closed")
        try:
            return self._read.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from exc

    async def get_session(self, session_id: str) -> Session | None:
        rows = self._rows(f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?", (session_id,))
        return _session(rows[0]) if rows else None

    async def list_sessions(self) -> list[Session]:
        rows = self._rows(
            f"SELECT {SESSION_COLUMNS} FROM sessions s ORDER BY s.started_at DESC, s.id"
        )
        return [_session(r) for r in rows]

    async def session_internals(self, session_id: str) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT id, provider, status, prd_path, project_dir, options, started_at, pid, pgid,"
            " proc_started, current_phase, iteration FROM sessions WHERE id = ?",
            (session_id,),
        )
        if not rows:
            return None
        keys = (
            "id",
            "provider",
            "status",
            "prd_path",
            "project_dir",
            "options",
            "started_at",
            "pid",
            "pgid",
            "proc_started",
            "current_phase",
            "iteration",
        )
        info = dict(zip(keys, rows[0], strict=True))
        info["options"] = json.loads(info["options"])
        return info

    async def sessions_with_status(self, statuses: Sequence[str]) -> list[Session]:
        marks = ",".join("?" * len(statuses))
        rows = self._rows(
            f"SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.status IN ({marks})"
            " ORDER BY s.started_at",
            tuple(statuses),
        )
        return [_session(r) for r in rows]

    async def session_counts(self) -> dict[str, int]:
        return dict(self._rows("SELECT status, COUNT(*) FROM sessions GROUP BY status"))

    async def provider_totals(self) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT provider, COUNT(*), SUM(iteration), SUM(input_tokens), SUM(output_tokens),"
            " SUM(cost_usd) FROM sessions GROUP BY provider"
        )
        keys = ("provider", "sessions", "iterations", "inputTokens", "outputTokens", "costUsd")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    async def get_task(self, session_id: str, task_id: str) -> Task | None:
        rows = self._rows(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ? AND session_id = ?",
            (task_id, session_id),
        )
        return _task(rows[0]) if rows else None

    async def list_tasks(
        self, session_id: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[Task], int]:
        clauses, params = [], []
        if session_id is not None:
            clauses.append("session_id = ?")
            params.append(session_id)
        if status is not None:
            clauses.append("status = ?")
            params.append(status)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._rows(
            f"SELECT {TASK_COLUMNS} FROM tasks {where} ORDER BY rowid LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        counts = await self.task_counts(session_id)
        total = counts.get(status, 0) if status is not None else sum(counts.values())
        return [_task(r) for r in rows], total

    async def task_counts(self, session_id: str | None) -> dict[str, int]:
        rows = self._rows(
            "SELECT status, n FROM task_counts WHERE session_id = ? AND n > 0", (session_id or "*",)
        )
        return dict(rows)

    async def tasks_with_status(self, statuses: Sequence[str], limit: int) -> list[Task]:
        marks = ",".join("?" * len(statuses))
        rows = self._rows(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE status IN ({marks}) ORDER BY rowid LIMIT ?",
            (*statuses, limit),
        )
        return [_task(r) for r in rows]

    async def list_agents(self, session_id: str | None, active_only: bool = False) -> list[Agent]:
        clauses, params = [], []
        if session_id is not None:
            clauses.append("session_id = ?")
            params.append(session_id)
        if active_only:
            clauses.append("status = 'active'")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._rows(
            f"SELECT {AGENT_COLUMNS} FROM agents {where} ORDER BY spawned_at, id", params
        )
        return [_agent(r) for r in rows]

    async def agent_counts(self, session_id: str | None) -> dict[str, int]:
        if session_id is None:
            rows = self._rows("SELECT status, COUNT(*) FROM agents GROUP BY status")
        else:
            rows = self._rows(
                "SELECT status, COUNT(*) FROM agents WHERE session_id = ? GROUP BY status",
                (session_id,),
            )
        return dict(rows)

    async def events_after(self, seq: int, flt: EventFilter, limit: int) -> list[StoredEvent]:
        where, params = _event_where(flt)
        rows = self._rows(
            f"SELECT seq, type, session_id, level, payload FROM events WHERE seq > ?{where}"
            " ORDER BY seq LIMIT ?",
            (seq, *params, limit),
        )
        return [StoredEvent(*r) for r in rows]

    async def recent_events(self, flt: EventFilter, limit: int) -> list[StoredEvent]:
        where, params = _event_where(flt)
        rows = self._rows(
            f"SELECT seq, type, session_id, level, payload FROM events WHERE 1{where}"
            " ORDER BY seq DESC LIMIT ?",
            (*params, limit),
        )
        return [StoredEvent(*r) for r in reversed(rows)]

    async def event_counts(self) -> dict[str, int]:
        return dict(self._rows("SELECT type, n FROM event_counts WHERE n > 0"))

    async def last_seq(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])

    async def pending_controls(self, session_id: str) -> list[Control]:
        rows = self._rows(
            "SELECT id, session_id, kind, payload, state, created_at FROM controls"
            " WHERE session_id = ? AND state = 'pending' ORDER BY created_at, rowid",
            (session_id,),
        )
        return [Control(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]

    async def healthy(self) -> bool:
        try:
            return self._rows("SELECT 1") == [(1,)] and self._thread is not None
        except StoreError:
            return False

    def size_bytes(self) -> int:
        assert self.path is not None
        total = 0
        for suffix in ("", "-wal", "-shm"):
            p = self.path.with_name(self.path.name + suffix)
            if p.exists():
                total += p.stat().st_size
        return total
