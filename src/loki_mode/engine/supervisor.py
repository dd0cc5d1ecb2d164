"""Starts one runner per session, recovers sessions after a crash, stops them all on shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
import uuid
from typing import Any

from loki_mode.engine import process
from loki_mode.engine.ingest import task_events
from loki_mode.engine.runner import Runner
from loki_mode.events import NewEvent
from loki_mode.providers import PROVIDERS
from loki_mode.settings import Settings
from loki_mode.store import Store, StoreTx
from loki_mode.types import ACTIVE_STATUSES

log = logging.getLogger("loki.engine")
AVAILABILITY_TTL = 5.0


class Engine:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.runner_id = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.runners: dict[str, Runner] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._available: dict[str, tuple[float, bool]] = {}
        self.ready = False

    # --- what the service asks -------------------------------------------

    def available(self, provider: str) -> bool:
        """A provider is available when its command (the CLI or its override) is executable."""
        now = time.monotonic()
        cached = self._available.get(provider)
        if cached is not None and now - cached[0] < AVAILABILITY_TTL:
            return cached[1]
        command = self.settings.provider(provider).command
        ok = bool(command) and shutil.which(command[0]) is not None
        self._available[provider] = (now, ok)
        return ok

    def launch(self, session_id: str) -> None:
        task = asyncio.create_task(self._run(session_id), name=f"runner-{session_id}")
        self.tasks[session_id] = task

    def notify(self, session_id: str) -> None:
        runner = self.runners.get(session_id)
        if runner is not None:
            runner.controls.wake.set()

    @property
    def active(self) -> int:
        return len(self.tasks)

    # --- lifecycle ---------------------------------------------------------

    async def _run(self, session_id: str) -> None:
        try:
            info = await self._info(session_id)
            if info is None:
                return
            provider = PROVIDERS[info["provider"]]
            runner = Runner(
                session_id,
                store=self.store,
                provider=provider,
                command=self.settings.provider(info["provider"]),
                settings=self.settings.engine,
                runner_id=self.runner_id,
                info=info,
            )
            self.runners[session_id] = runner
            await runner.run()
        finally:
            self.runners.pop(session_id, None)
            self.tasks.pop(session_id, None)

    async def _info(self, session_id: str) -> dict[str, Any] | None:
        return await self.store.session_internals(session_id)

    async def start(self) -> None:
        """Recover sessions a previous server left active, then accept new ones."""
        for session in await self.store.sessions_with_status(sorted(ACTIVE_STATUSES)):
            info = await self.store.session_internals(session.id)
            if info is None:
                continue
            if info["pgid"] and process.end_orphan_group(info["pgid"], info["proc_started"]):
                log.warning(
                    "ended orphaned process group %s of session %s", info["pgid"], session.id
                )
            await self._close_interrupted(session.id, info["iteration"])
            if self.settings.engine.recovery == "resume" and session.status != "stopping":
                await self._note(
                    session.id,
                    "log:warn",
                    "server restarted; resuming the session",
                    pid=None,
                    pgid=None,
                    runner_id=None,
                )
                self.launch(session.id)
            else:
                reason = (
                    "stopped while the server was down"
                    if session.status == "stopping"
                    else ("server restarted while the session was running")
                )
                status = "stopped" if session.status == "stopping" else "failed"
                await self._end(session.id, status, reason)
        self.ready = True

    async def _close_interrupted(self, session_id: str, iteration: int) -> None:
        """The iteration a crash cut short failed; its agents with it."""
        reason = "interrupted: the server stopped unexpectedly"

        def write(tx: StoreTx) -> None:
            key = f"iteration-{iteration}"
            if tx.task_status(session_id, key) == "running":
                change = tx.upsert_task(session_id, key, status="failed", error=reason)
                for e in task_events(session_id, change):
                    tx.append(e)
            for agent in tx.finish_active_agents(session_id, "failed"):
                tx.append(
                    NewEvent("agent:failed", session_id, {"agentId": agent, "reason": reason})
                )

        await self.store.transact(write)

    async def _note(self, session_id: str, type_: str, message: str, **fields: Any) -> None:
        def write(tx: StoreTx) -> None:
            tx.update_session(session_id, **fields)
            tx.append(NewEvent(type_, session_id, {"message": message}))

        await self.store.transact(write)

    async def _end(self, session_id: str, status: str, reason: str) -> None:
        def write(tx: StoreTx) -> None:
            for agent in tx.finish_active_agents(session_id, "failed"):
                tx.append(
                    NewEvent("agent:failed", session_id, {"agentId": agent, "reason": reason})
                )
            tx.cancel_controls(session_id)
            tx.update_session(
                session_id, status=status, reason=reason, pid=None, pgid=None, runner_id=None
            )
            tx.append(NewEvent(f"session:{status}", session_id, {"reason": reason}))

        await self.store.transact(write)

    async def stop(self, reason: str = "server shutdown") -> None:
        """End every session this engine runs: provider groups ended, status `stopped`."""
        self.ready = False
        for runner in self.runners.values():
            runner.shutdown_reason = reason
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
