"""Answers of read endpoints, kept until the store next commits.

Dashboards and bots poll the same pages; between two commits the answer cannot
change, so it is computed once. Entries are keyed by path and query and carry the
store version they were computed at; any commit makes them all stale.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from loki_mode.api.responses import JSON
from loki_mode.runtime import Runtime

MAX_ENTRIES = 512


class ReadCache:
    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], tuple[int, bytes]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def respond(
        self, request: Request, compute: Callable[[], Awaitable[Response]]
    ) -> Response:
        rt: Runtime = request.app.state.runtime
        version = rt.store.version
        key = (request.url.path, request.url.query)
        entry = self._entries.get(key)
        if entry is not None and entry[0] == version:
            self.hits += 1
            self._entries.move_to_end(key)
            return JSON(entry[1])
        self.misses += 1
        response = await compute()  # errors are raised, so they are never cached
        if response.status_code == 200:
            self._entries[key] = (version, bytes(response.body))
            self._entries.move_to_end(key)
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return response


def cached(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """The same read endpoint, answered from the cache while the store has not changed."""

    async def endpoint(request: Request) -> Response:
        cache: ReadCache = request.app.state.read_cache
        return await cache.respond(request, lambda: handler(request))

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint
