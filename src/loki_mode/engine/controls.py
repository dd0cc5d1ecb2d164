"""A session's controls as its runner sees them, and the waits that honour them.

Stop, pause and resume are read from the store and applied in order at an
iteration boundary; human inputs are kept for the next prompt. Every wait reads
the controls at least once per poll interval, or at once when woken, so stop and
pause work during backoff and rate-limit waits as well as between iterations.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from loki_mode.store import Control, Store, StoreTx

Emit = Callable[..., Awaitable[None]]


class Stop(Exception):
    """A stop control (or server shutdown) ends the session as stopped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Controls:
    def __init__(
        self, store: Store, session_id: str, *, poll: float, emit: Emit, paused: bool
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.poll = poll
        self.emit = emit  # (event type, data, **session fields) -> written with its event
        self.paused = paused
        self.wake = asyncio.Event()
        self.directives: list[tuple[str, str]] = []  # (control id, text), oldest first

    def take_directives(self) -> list[tuple[str, str]]:
        taken, self.directives = self.directives, []
        return taken

    async def sleep_or_wake(self, seconds: float) -> None:
        # A timeout context, not wait_for: on 3.11 wait_for can swallow the cancel that
        # ends a runner at shutdown when the wake lands in the same loop step.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(seconds, 0.0)):
                await self.wake.wait()
        self.wake.clear()

    async def stop_pending(self) -> bool:
        return any(c.kind == "stop" for c in await self.store.pending_controls(self.session_id))

    async def _take(self) -> list[Control]:
        """Consume stop/pause/resume controls in order; inputs are kept for the next prompt."""
        controls = await self.store.pending_controls(self.session_id)
        if not controls:
            return []
        seen = {cid for cid, _ in self.directives}
        for c in controls:
            if c.kind == "input" and c.id not in seen:
                self.directives.append((c.id, str(c.payload.get("input", ""))))
        steering = [c for c in controls if c.kind != "input"]

        def consume(tx: StoreTx) -> None:
            for c in steering:
                tx.set_control_state(c.id, "consumed")

        if steering:
            await self.store.transact(consume)
        return steering

    async def _apply(self, steering: list[Control], iteration: int) -> None:
        for c in steering:
            if c.kind == "stop":
                raise Stop("stop requested")
            if c.kind == "pause" and not self.paused:
                self.paused = True
                await self.emit("session:paused", {"iteration": iteration}, status="paused")
            elif c.kind == "resume" and self.paused:
                self.paused = False
                await self.emit("session:resumed", {"iteration": iteration}, status="running")

    async def boundary(self, iteration: int) -> None:
        """Apply controls; while paused, wait (reacting to stop within a poll)."""
        await self._apply(await self._take(), iteration)
        while self.paused:
            await self.sleep_or_wake(self.poll)
            await self._apply(await self._take(), iteration)

    async def wait(self, seconds: float, why: str, iteration: int) -> None:
        until = time.time() + seconds
        data: dict[str, Any] = {
            "message": f"waiting {seconds:.1f} s ({why})",
            "reason": why,
            "seconds": round(seconds, 3),
            "until": until,
        }
        await self.emit("log:info", data)
        remaining = seconds
        while remaining > 0:
            await self.sleep_or_wake(min(remaining, self.poll))
            await self.boundary(iteration)
            remaining = until - time.time()

    async def await_input(self, question: str, timeout: float, iteration: int) -> None:
        """The agent asked a question: wait for a human's input before the next iteration."""
        deadline = time.time() + timeout
        while not self.directives and time.time() < deadline:
            await self.sleep_or_wake(min(self.poll, deadline - time.time()))
            await self.boundary(iteration)
        if not self.directives:
            await self.emit("log:warn", {"message": f"no answer to '{question}' in time; going on"})
