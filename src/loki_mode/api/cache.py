"""Answers of read endpoints, kept until the store next commits, and served ahead of routing.

Dashboards and bots poll the same pages; between two commits the answer cannot
change, so it is computed once. Entries are keyed by path and query and carry the
store version they were computed at; any commit makes them all stale. A fresh
entry is answered by `FastPath`, which sits behind the security checks and in
front of routing, so a repeated read costs a dictionary lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from loki_mode.store import Store

MAX_ENTRIES = 512
JSON_TYPE = (b"content-type", b"application/json")
LIVE_BODY = b'{"status":"alive"}'


class ReadCache:
    def __init__(self, store: Store, size: int = MAX_ENTRIES) -> None:
        self.store = store
        self.size = size
        # (path, query) -> (store version, body, the route that made it)
        self._entries: OrderedDict[tuple[str, bytes], tuple[int, bytes, Any]] = OrderedDict()
        self._version = -1  # the store version of every entry held
        self.hits = 0
        self.misses = 0

    def lookup(self, scope: Scope) -> tuple[bytes, Any] | None:
        key = (scope["path"], scope["query_string"])
        entry = self._entries.get(key)
        if entry is None or entry[0] != self.store.version:
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry[1], entry[2]

    async def compute(
        self, request: Request, handler: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        scope = request.scope
        version = self.store.version  # read before computing: a commit meanwhile makes it stale
        self.misses += 1
        response = await handler(request)  # errors are raised, so they are never cached
        if response.status_code == 200:
            if version != self._version:
                # Every commit makes every entry stale: drop them, rather than hold
                # answers no request can be given until the LRU pushes them out.
                self._entries.clear()
                self._version = version
            key = (scope["path"], scope["query_string"])
            self._entries[key] = (version, bytes(response.body), scope.get("route"))
            self._entries.move_to_end(key)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return response


def cached(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """The same read endpoint, remembered until the store changes."""

    async def endpoint(request: Request) -> Response:
        cache: ReadCache = request.app.state.read_cache
        return await cache.compute(request, handler)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


class FastPath:
    """Answers liveness probes and fresh cached reads without routing, and hands event
    streams straight to their endpoint: a stream lives for hours, and every layer it
    passes through stays on its stack for as long."""

    def __init__(self, app: ASGIApp, cache: ReadCache, live_route: Any, events_route: Any) -> None:
        self.app = app
        self.cache = cache
        self.live_route = live_route
        self.events_route = events_route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            if scope["path"] == "/health/live":
                scope["route"] = self.live_route
                await _answer(send, LIVE_BODY)
                return
            if scope["path"] == "/api/events":
                scope["route"] = self.events_route
                await self.events_route.app(scope, receive, send)
                return
            hit = self.cache.lookup(scope)
            if hit is not None:
                scope["route"] = hit[1]
                await _answer(send, hit[0])
                return
        await self.app(scope, receive, send)


async def _answer(send: Send, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [JSON_TYPE, (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})
