"""The embedded store: schema, transactions, batching, counts and the event log."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from loki_mode.errors import StoreError
from loki_mode.events import EventFilter, NewEvent, StoredEvent
from loki_mode.store import SQLiteStore, StoreTx
from loki_mode.store.schema import MIGRATIONS


def run(fn: Callable[[SQLiteStore], Coroutine[Any, Any, Any]], path: Path, **kw: Any) -> Any:
    async def main() -> Any:
        store = SQLiteStore(path, **kw)
        await store.open()
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(main())


def new_session(tx: StoreTx, sid: str = "s1", project: str = "/p") -> None:
    tx.insert_session(
        sid, provider="claude", prd_path=None, project_dir=project, options={}, status="running"
    )


def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    db = tmp_path / "loki.db"
    run(lambda s: asyncio.sleep(0), db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    run(lambda s: asyncio.sleep(0), db)  # re-opening runs no migration twice


def test_state_change_and_event_commit_together(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> None:
        def ok(tx: StoreTx) -> None:
            new_session(tx)
            tx.append(NewEvent("session:started", "s1"))

        def broken(tx: StoreTx) -> None:
            tx.update_session("s1", status="failed")
            tx.append(NewEvent("session:failed", "s1"))
            raise ValueError("boom")

        await store.transact(ok)
        with pytest.raises(ValueError, match="boom"):
            await store.transact(broken)
        session = await store.get_session("s1")
        assert session is not None and session.status == "running"
        assert [e.type for e in await store.events_after(0, EventFilter(), 10)] == [
            "session:started"
        ]
        # The sequence skipped nothing for the rolled-back event.
        await store.transact(lambda tx: tx.append(NewEvent("log:info", "s1")))
        assert [e.seq for e in await store.events_after(0, EventFilter(), 10)] == [1, 2]

    run(scenario, tmp_path / "loki.db")


def test_bursts_commit_in_order_and_notify_listeners(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> None:
        seen: list[StoredEvent] = []
        store.add_listener(seen.extend)
        futures = [
            store.submit(lambda tx, i=i: tx.append(NewEvent("agent:output", "s1", {"i": i})))
            for i in range(5000)
        ]
        await asyncio.wrap_future(futures[-1])
        await asyncio.sleep(0.01)
        assert [e.seq for e in seen] == list(range(1, 5001))
        stored = await store.events_after(4990, EventFilter(), 100)
        assert [e.seq for e in stored] == list(range(4991, 5001))
        assert b'"i":4999' in stored[-1].payload

    run(scenario, tmp_path / "loki.db")


def test_reads_do_not_wait_for_the_writer(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> None:
        await store.transact(new_session)
        inside = threading.Event()

        def slow(tx: StoreTx) -> None:
            tx.update_session("s1", status="paused")
            inside.set()
            time.sleep(0.5)

        pending = asyncio.wrap_future(store.submit(slow))
        await asyncio.to_thread(inside.wait)
        began = time.perf_counter()
        session = await store.get_session("s1")
        assert time.perf_counter() - began < 0.2
        assert session is not None and session.status == "running"  # not committed yet
        await pending
        after = await store.get_session("s1")
        assert after is not None and after.status == "paused"

    run(scenario, tmp_path / "loki.db")


def test_task_counts_follow_inserts_updates_and_deletes(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> None:
        def write(tx: StoreTx) -> None:
            new_session(tx, "a")
            new_session(tx, "b", project="/q")
            for i in range(5):
                tx.upsert_task("a", f"k{i}", title=f"t{i}", status="pending")
            tx.upsert_task("b", "k0", title="x", status="running")
            tx.upsert_task("a", "k0", status="running")
            tx.upsert_task("a", "k1", status="completed")

        await store.transact(write)
        assert await store.task_counts("a") == {"pending": 3, "running": 1, "completed": 1}
        assert await store.task_counts(None) == {"pending": 3, "running": 2, "completed": 1}
        tasks, total = await store.list_tasks(None, "running", 10, 0)
        assert total == 2 and [t.session_id for t in tasks] == ["a", "b"]
        page, total = await store.list_tasks("a", None, 2, 2)
        assert total == 5 and [t.title for t in page] == ["t2", "t3"]
        first = await store.get_task("a", tasks[0].id)
        assert first is not None and first.started_at is not None and first.completed_at is None
        await store.transact(lambda tx: tx.delete_session("a"))
        assert await store.task_counts(None) == {"running": 1}
        assert await store.get_session("a") is None

    run(scenario, tmp_path / "loki.db")


def test_event_filters_in_sql_match_the_bus(tmp_path: Path) -> None:
    kinds = ["session:started", "log:debug", "log:warn", "task:created", "agent:output"]

    async def scenario(store: SQLiteStore) -> None:
        def write(tx: StoreTx) -> None:
            for i, kind in enumerate(kinds * 2):
                tx.append(NewEvent(kind, "a" if i < 5 else "b"))

        await store.transact(write)
        filters = [
            EventFilter.parse(None, "log:*", "warn"),
            EventFilter.parse("b", "task:created,agent:output", None),
            EventFilter.parse(None, None, "info"),
            EventFilter.parse("a", "*", None),
        ]
        everything = await store.events_after(0, EventFilter(), 100)
        for flt in filters:
            expected = [e.seq for e in everything if flt.matches(e.type, e.session_id, e.level)]
            assert [e.seq for e in await store.events_after(0, flt, 100)] == expected
            recent = await store.recent_events(flt, 2)
            assert [e.seq for e in recent] == expected[-2:]

    run(scenario, tmp_path / "loki.db")


def test_sequence_continues_after_reopen_and_retention_prunes(tmp_path: Path) -> None:
    db = tmp_path / "loki.db"

    async def append(store: SQLiteStore, n: int) -> int:
        futures = [store.submit(lambda tx: tx.append(NewEvent("log:info", None))) for _ in range(n)]
        await asyncio.wrap_future(futures[-1])
        return await store.last_seq()

    assert run(lambda s: append(s, 10), db) == 10
    assert run(lambda s: append(s, 2500), db, retention=1000) == 2510

    async def remaining(store: SQLiteStore) -> tuple[int, int]:
        events = await store.events_after(0, EventFilter(), 5000)
        return len(events), sum((await store.event_counts()).values())

    kept, counted = run(remaining, db)
    assert 1000 <= kept < 2510 and counted == kept


def test_closed_store_raises_store_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = SQLiteStore(tmp_path / "loki.db")
        await store.open()
        await store.close()
        with pytest.raises(StoreError):
            await store.get_session("x")
        with pytest.raises(StoreError):
            await store.transact(new_session)

    asyncio.run(scenario())


def test_reopened_task_loses_its_completion_time(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> None:
        def write(tx: StoreTx) -> str:
            new_session(tx)
            tx.upsert_task("s1", "plan:x", title="x", status="completed")
            tx.upsert_task("s1", "plan:x", status="pending")
            return tx.upsert_task("s1", "plan:y", title="y", status="completed").task_id

        await store.transact(write)
        (task,), _ = await store.list_tasks("s1", "pending", 10, 0)
        assert task.completed_at is None and task.started_at is None
        await store.transact(lambda tx: tx.upsert_task("s1", "plan:y", status="running"))
        (running,), _ = await store.list_tasks("s1", "running", 10, 0)
        assert running.completed_at is None and running.started_at is not None

    run(scenario, tmp_path / "loki.db")
