"""Wakes SSE subscribers when events are appended to the log.

A subscriber is a cursor into the log plus a filter. Subscribers with the same
filter form a group: each batch of committed events is filtered and encoded once
per group, and the same bytes are queued for every member, so fan-out costs one
append per subscriber. A subscriber whose queue passes the bound while live is
cut off (it resumes from the log with Last-Event-ID); one still catching up from
the store just drops its queue and reads further from the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from loki_mode.api.sse import comment, ephemeral, frame
from loki_mode.events import EventFilter, StoredEvent


@dataclass(slots=True)
class Chunk:
    first: int
    last: int
    data: bytes
    entries: tuple[tuple[int, bytes], ...]


class Wake:
    """A one-waiter asyncio.Event: a thousand idle streams each hold one, so it stays small."""

    __slots__ = ("_flag", "_waiter")

    def __init__(self) -> None:
        self._flag = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._flag = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    async def wait(self) -> None:
        if self._flag:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


@dataclass(eq=False, slots=True, weakref_slot=True)
class Subscriber:
    filter: EventFilter
    limit: int
    chunks: list[Chunk | bytes] = field(default_factory=list)
    queued: int = 0  # frames waiting
    live: bool = False
    dropped: bool = False  # queue discarded during catch-up: read the store again
    overflowed: bool = False
    closed: bool = False  # the client went away
    wake: Wake = field(default_factory=Wake)

    def push(self, chunk: Chunk | bytes, count: int) -> None:
        # One batch bigger than the bound does not make a reader slow: only a queue
        # that was not drained before more arrived counts against it.
        self.queued += count
        if self.queued > self.limit and self.queued > count:
            self.chunks.clear()
            self.queued = 0
            if self.live:
                self.overflowed = True
            else:
                self.dropped = True
        else:
            self.chunks.append(chunk)
        self.wake.set()

    def take(self, cursor: int) -> tuple[bytes, int]:
        """Everything queued after `cursor`, as one buffer, and the new cursor."""
        parts: list[bytes] = []
        for chunk in self.chunks:
            if isinstance(chunk, bytes):
                parts.append(chunk)
            elif chunk.first > cursor:
                parts.append(chunk.data)
                cursor = chunk.last
            elif chunk.last > cursor:
                parts.extend(f for seq, f in chunk.entries if seq > cursor)
                cursor = chunk.last
        self.chunks.clear()
        self.queued = 0
        self.wake.clear()
        return b"".join(parts), cursor


class Bus:
    def __init__(self, buffer: int) -> None:
        self.buffer = buffer
        self._groups: dict[tuple[object, ...], tuple[EventFilter, set[Subscriber]]] = {}
        self.published = 0

    @property
    def subscribers(self) -> int:
        return sum(len(members) for _, members in self._groups.values())

    def subscribe(self, flt: EventFilter) -> Subscriber:
        sub = Subscriber(flt, self.buffer)
        self._groups.setdefault(flt.key, (flt, set()))[1].add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        group = self._groups.get(sub.filter.key)
        if group is not None:
            group[1].discard(sub)
            if not group[1]:
                del self._groups[sub.filter.key]

    def publish(self, events: list[StoredEvent]) -> None:
        """Store listener: runs on the event loop with each committed batch."""
        self.published += len(events)
        frames: dict[int, bytes] = {}
        for flt, members in self._groups.values():
            entries = []
            for e in events:
                if flt.matches(e.type, e.session_id, e.level):
                    f = frames.get(e.seq)
                    if f is None:
                        f = frames[e.seq] = frame(e.seq, e.type, e.payload)
                    entries.append((e.seq, f))
            if entries:
                chunk = Chunk(
                    entries[0][0], entries[-1][0], b"".join(f for _, f in entries), tuple(entries)
                )
                for sub in members:
                    sub.push(chunk, len(entries))

    def broadcast(self, type_: str, session_id: str | None, payload: bytes) -> None:
        """Send an event that is not part of the log (heartbeats) to whoever wants it.

        Server-wide events (no session) reach session-filtered streams too: they keep
        every stream's view of the server alive.
        """
        data = ephemeral(type_, payload)
        for flt, members in self._groups.values():
            if flt.matches(type_, session_id or flt.session_id, None):
                for sub in members:
                    sub.push(data, 1)

    def keepalive(self) -> None:
        """A comment on every stream, so clients and proxies see an idle connection live.

        One timer for the whole server instead of one per stream; the comment counts
        against no subscriber's bound.
        """
        data = comment("keepalive")
        for _, members in self._groups.values():
            for sub in members:
                sub.push(data, 0)

    def close_all(self) -> None:
        for _, members in self._groups.values():
            for sub in members:
                sub.overflowed = True
                sub.wake.set()

    def all_subscribers(self) -> Iterable[Subscriber]:
        for _, members in self._groups.values():
            yield from members
