"""The /api/events stream: catch up from the log, then follow the bus live.

The pump runs in the request's own task; a callback on the server's receive
future turns the client's disconnect into a wake-up (`DisconnectWatch`), and the bus wakes every
stream at shutdown, so an idle stream costs one task, not three. The pump registers with the bus before
reading the log, so every event is either read from the log or queued live; the
cursor drops what was seen twice. Every send has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Receive, Scope, Send

from loki_mode.api import sse
from loki_mode.api.bus import Subscriber
from loki_mode.events import EventFilter
from loki_mode.runtime import Runtime

log = logging.getLogger("loki.api")
PAGE = 1000
SEND_TIMEOUT = 30.0
SETTLE_TIMEOUT = 1.0  # seconds the server gets to settle a pending receive after the response
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class ClientGone(Exception):
    """The client disconnected, stalled past the send timeout, or fell too far behind."""


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
        watch = DisconnectWatch(receive, sub)
        write = _writer(send, sub)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            cursor = await self._start(sub, write)
            sub.live = True
            # The live loop runs in this frame: an idle stream keeps as few frames as it can.
            while cursor is not None:
                await sub.wake.wait()  # events, the keep-alive tick, a disconnect or shutdown
                if sub.overflowed or sub.closed:
                    break  # a client cut off resumes from the log with Last-Event-ID
                data, cursor = sub.take(cursor)
                if data:
                    await write(data)
        except ClientGone:
            pass
        finally:
            runtime.bus.unsubscribe(sub)
        if not sub.closed:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await send({"type": "http.response.body", "body": b""})
        await watch.settle()

    async def _start(
        self, sub: Subscriber, write: Callable[[bytes], Awaitable[None]]
    ) -> int | None:
        """Send the history asked for and catch up from the log; the cursor to go live from."""
        runtime = self.runtime
        store = runtime.store
        if runtime.shutting_down is not None and runtime.shutting_down.is_set():
            return None
        await write(sse.RETRY + sse.comment("connected"))
        if self.after is not None:
            cursor = self.after
        else:
            cursor = await store.last_seq()
            if self.history > 0:
                recent = await store.recent_events(self.filter, self.history)
                if recent:
                    await write(b"".join(sse.frame(e.seq, e.type, e.payload) for e in recent))
                    cursor = max(cursor, recent[-1].seq)
        return await self._catch_up(sub, cursor, write)

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


def _writer(send: Send, sub: Subscriber) -> Callable[[bytes], Awaitable[None]]:
    async def write(data: bytes) -> None:
        if sub.closed:
            raise ClientGone
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                await send({"type": "http.response.body", "body": data, "more_body": True})
        except (TimeoutError, OSError, RuntimeError) as exc:
            log.debug("event stream ended: %r", exc)
            raise ClientGone from exc

    return write


class DisconnectWatch:
    """Marks a subscriber closed when its client goes, with a callback, not a task.

    Granian's receive() is already a future, so watching costs a callback (any other
    server's coroutine becomes a task). Such a future cannot be cancelled, and it is
    invisible to the garbage collector: a cycle through it (watch -> future ->
    callback -> watch) is never freed. So the watch lets go of its future as soon as
    it settles, `settle()` waits for the last one, and the subscriber is held weakly.
    """

    __slots__ = ("receive", "subscriber", "waiter")

    def __init__(self, receive: Receive, sub: Subscriber) -> None:
        self.receive = receive
        self.subscriber = weakref.ref(sub)
        self.waiter: asyncio.Future[Any] | None = None
        self._arm()

    def _arm(self) -> None:
        self.waiter = asyncio.ensure_future(self.receive())
        self.waiter.add_done_callback(self._done)

    def _done(self, waiter: asyncio.Future[Any]) -> None:
        self.waiter = None
        if waiter.cancelled():
            return
        gone = waiter.exception() is not None or waiter.result().get("type") == "http.disconnect"
        if not gone:
            self._arm()  # a request body chunk: keep listening
            return
        sub = self.subscriber()
        if sub is not None:
            sub.closed = True
            sub.wake.set()

    async def settle(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.cancel()  # works on a task; the server's own future settles on close
            with contextlib.suppress(Exception):
                await asyncio.wait([waiter], timeout=SETTLE_TIMEOUT)
        self.waiter = None
