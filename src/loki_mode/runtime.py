"""The application object: store, bus, engine and service, started and stopped together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import msgspec

from loki_mode import __version__
from loki_mode.api.bus import Bus
from loki_mode.clock import now_iso
from loki_mode.engine.supervisor import Engine
from loki_mode.service.sessions import SessionService
from loki_mode.settings import Settings
from loki_mode.store import SQLiteStore, Store
from loki_mode.types import PROVIDERS

log = logging.getLogger("loki")


class Runtime:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self.version = __version__
        self.store: Store = store or SQLiteStore(
            settings.store_path, retention=settings.event_retention
        )
        self.bus = Bus(settings.subscriber_buffer)
        self.engine = Engine(settings, self.store)
        self.service = SessionService(settings, self.store, self.engine)
        self.started = time.monotonic()
        self.shutting_down: asyncio.Event | None = None  # made in start(), on the serving loop
        self._heartbeat: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None

    @property
    def uptime_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def providers(self) -> dict[str, bool]:
        return {name: self.engine.available(name) for name in PROVIDERS}

    async def start(self) -> None:
        self.shutting_down = asyncio.Event()
        await self.store.open()
        self.store.add_listener(self.bus.publish)
        await self.engine.start()
        self._heartbeat = asyncio.create_task(self._beat(), name="heartbeat")
        self._keepalive = asyncio.create_task(self._tick(), name="sse-keepalive")

    async def stop(self) -> None:
        if self.shutting_down is not None:
            self.shutting_down.set()
        self.bus.close_all()
        for task in (self._heartbeat, self._keepalive):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.engine.stop()
        await self.store.close()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.settings.keepalive_interval)
            self.bus.keepalive()

    async def _beat(self) -> None:
        """Heartbeats while any session is active; they are not part of the log."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            if not self.engine.active or not self.bus.subscribers:
                continue
            try:
                agents = await self.store.agent_counts(None)
                queued = await self.store.task_counts(None)
            except Exception:  # a failed heartbeat must not end the loop
                log.exception("heartbeat failed")
                continue
            payload = msgspec.json.encode(
                {
                    "id": f"heartbeat-{self.uptime_ms}",
                    "type": "heartbeat",
                    "timestamp": now_iso(),
                    "sessionId": None,
                    "data": {
                        "uptime": self.uptime_ms,
                        "activeSessions": self.engine.active,
                        "activeAgents": agents.get("active", 0),
                        "queuedTasks": queued.get("pending", 0) + queued.get("queued", 0),
                    },
                }
            )
            self.bus.broadcast("heartbeat", None, payload)
