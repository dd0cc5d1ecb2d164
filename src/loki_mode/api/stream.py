"""The /api/events stream: catch up from the log, then follow the bus live.

Three things run side by side and the first to finish ends the response: the
event pump, a watch for the client's disconnect, and the server's shutdown.
The pump registers with the bus before reading the log, so every event is
either read from the log or queued live; the cursor drops what was seen twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Receive, Scope, Send

from loki_mode.api import sse
from loki_mode.api.bus import Subscriber
from loki_mode.events import EventFilter
from loki_mode.runtime import Runtime

PAGE = 1000
SEND_TIMEOUT = 30.0
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class EventStream:
    def __init__(
        self, runtime: Runtime, flt: EventFilter, *, after: int | None, history: int
    ) -> None:
        self.runtime = runtime
        self.filter = flt
        self.after = after
        self.history = history

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        runtime = self.runtime
        sub = runtime.bus.subscribe(self.filter)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await send(
                {
                    "type": "http.response.body",
                    "body": sse.RETRY + sse.comment("connected"),
                    "more_body": True,
                }
            )
            tasks: list[asyncio.Future[Any]] = [
                asyncio.ensure_future(self._pump(sub, send)),
                asyncio.ensure_future(_disconnected(receive)),
            ]
            if runtime.shutting_down is not None:
                tasks.append(asyncio.ensure_future(runtime.shutting_down.wait()))
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            with contextlib.suppress(Exception):
                await asyncio.wait_for(send({"type": "http.response.body", "body": b""}), 1.0)
        finally:
            runtime.bus.unsubscribe(sub)

    async def _pump(self, sub: Subscriber, send: Send) -> None:
        store = self.runtime.store
        keepalive = self.runtime.settings.keepalive_interval

        async def write(data: bytes) -> None:
            await asyncio.wait_for(
                send({"type": "http.response.body", "body": data, "more_body": True}), SEND_TIMEOUT
            )

        if self.after is not None:
            cursor = self.after
        else:
            cursor = await store.last_seq()
            if self.history > 0:
                recent = await store.recent_events(self.filter, self.history)
                if recent:
                    await write(b"".join(sse.frame(e.seq, e.type, e.payload) for e in recent))
                    cursor = max(cursor, recent[-1].seq)
        cursor = await self._catch_up(sub, cursor, write)
        sub.live = True
        while True:
            try:
                await asyncio.wait_for(sub.wake.wait(), keepalive)
            except TimeoutError:
                await write(sse.comment("keepalive"))
                continue
            if sub.overflowed:
                return  # the client resumes from the log with Last-Event-ID
            data, cursor = sub.take(cursor)
            if data:
                await write(data)

    async def _catch_up(
        self, sub: Subscriber, cursor: int, write: Callable[[bytes], Awaitable[None]]
    ) -> int:
        store = self.runtime.store
        while True:
            sub.dropped = False
            while True:
                page = await store.events_after(cursor, self.filter, PAGE)
                if page:
                    await write(b"".join(sse.frame(e.seq, e.type, e.payload) for e in page))
                    cursor = page[-1].seq
                if len(page) < PAGE:
                    break
            if not sub.dropped:
                return cursor


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
