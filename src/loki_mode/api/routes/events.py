"""Events: the live SSE stream, history and statistics."""

from __future__ import annotations

from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from loki_mode.api import params
from loki_mode.api.cache import cached
from loki_mode.api.context import runtime as _rt
from loki_mode.api.responses import JSON, problem
from loki_mode.api.stream import EventStream
from loki_mode.errors import ApiProblem, ValidationProblem
from loki_mode.events import EventFilter
from loki_mode.models import EventStats

HISTORY_MAX = 10_000


def _filter(request: Request) -> EventFilter:
    q = request.query_params
    return EventFilter.parse(q.get("sessionId"), q.get("types"), q.get("minLevel"))


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationProblem("Last-Event-ID must be an event id", value=raw) from None
    if value < 0:
        raise ValidationProblem("Last-Event-ID must not be negative", value=raw)
    return value


class StreamEndpoint:
    """A raw ASGI endpoint: the stream owns the connection from the first byte.

    Not a coroutine itself: it hands back the stream's coroutine, so a stream that
    lives for hours keeps no frame of this dispatch on its stack.
    """

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        try:
            stream = _open(Request(scope, receive))
        except ApiProblem as exc:
            return problem(exc)(scope, receive, send)
        return stream(scope, receive, send)


def _open(request: Request) -> EventStream:
    """The stream a request asks for; the request itself is not kept alive with it."""
    flt = _filter(request)
    history = params.integer(request.query_params, "history", 0, low=0, high=HISTORY_MAX)
    return EventStream(_rt(request), flt, after=_last_event_id(request), history=history)


async def history(request: Request) -> Response:
    rt = _rt(request)
    flt = _filter(request)
    limit = params.integer(request.query_params, "limit", 100, low=1, high=1000)
    events = await rt.store.recent_events(flt, limit)
    body = b'{"events":[' + b",".join(e.payload for e in events) + b'],"count":%d}' % len(events)
    return JSON(body)


async def stats(request: Request) -> Response:
    rt = _rt(request)
    counts = await rt.store.event_counts()
    return JSON(
        EventStats(
            subscribers=rt.bus.subscribers,
            history_size=sum(counts.values()),
            by_type=counts,
            last_event_id=str(await rt.store.last_seq()),
            published=rt.bus.published,
        )
    )


routes = [
    Route("/api/events", StreamEndpoint(), methods=["GET"]),
    Route("/api/events/history", cached(history), methods=["GET"]),
    Route("/api/events/stats", stats, methods=["GET"]),
]
