"""The `/api/events` follower's state, shared by both clients: no I/O, no clock of its own.

It says which request to make next (query and `Last-Event-ID`), turns stream
bytes into `Event`s (dropping heartbeats unless asked, and anything already
delivered), and decides after a failure whether to reconnect and after how long.

No gap, no duplicate: the cursor is the `id:` of the last delivered frame.
Reconnects send it as `Last-Event-ID` (and no `history`, which would replay
again); a frame whose id is not past the cursor is dropped. A live-only follow
(neither `history` nor `last_event_id`) first reads the id of the newest event
in the log (`GET /api/events/history?limit=1`) and starts from there, so even a
connection that drops before its first event resumes without a gap.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from loki_mode.client._base import ClientSettings, Params, join_types
from loki_mode.client._errors import LokiApiError, LokiError
from loki_mode.client._sse import SSEMessage, SSEParser
from loki_mode.models import Event, EventHistory

HEARTBEAT = "heartbeat"
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class EventStream:
    """One logical subscription across any number of HTTP connections."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        session_id: str | None = None,
        types: str | Sequence[str] | None = None,
        min_level: str | None = None,
        history: int | None = None,
        last_event_id: str | None = None,
        include_heartbeats: bool = False,
    ) -> None:
        self._settings = settings
        self._params: Params = {}
        if session_id is not None:
            self._params["sessionId"] = session_id
        joined = join_types(types)
        if joined is not None:
            self._params["types"] = joined
        if min_level is not None:
            self._params["minLevel"] = min_level
        self._history = history
        self._include_heartbeats = include_heartbeats
        self._parser = SSEParser()
        self._failures = 0
        self._down_since: float | None = None
        self.last_event_id = last_event_id
        self.connections = 0

    # -- what to send ---------------------------------------------------------

    @property
    def needs_start(self) -> bool:
        """True until a live-only follow knows where the log ends (see `start_at`)."""
        return self.last_event_id is None and not self._history

    def start_at(self, newest: EventHistory) -> None:
        """Start after the newest event in the log (`"0"`: the log is empty)."""
        self.last_event_id = newest.events[-1].id if newest.events else "0"

    def params(self) -> Params:
        params = dict(self._params)
        if self._history is not None and self.last_event_id is None:
            params["history"] = str(self._history)
        return params

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        return headers

    # -- what came back -------------------------------------------------------

    def opened(self) -> None:
        """A 200 stream response arrived: a fresh parser, and the backoff starts over."""
        self._parser = SSEParser()
        self._failures = 0
        self._down_since = None
        self.connections += 1

    def feed(self, chunk: bytes) -> list[Event]:
        events: list[Event] = []
        for message in self._parser.feed(chunk):
            event = self._accept(message)
            if event is not None:
                events.append(event)
        return events

    def _accept(self, message: SSEMessage) -> Event | None:
        if message.event == HEARTBEAT and message.id is None and not self._include_heartbeats:
            return None
        if message.id is not None:
            if not self._is_new(message.id):
                return None
            self.last_event_id = message.id
        return _decode(message)

    def _is_new(self, frame_id: str) -> bool:
        last = self.last_event_id
        if last is None:
            return True
        if frame_id.isdigit() and last.isdigit():
            return int(frame_id) > int(last)
        return frame_id != last

    # -- after a connection ends ----------------------------------------------

    def retry_after(self, error: LokiError | None, now: float) -> float:
        """Seconds to wait before reconnecting, or raise `error` when it is final.

        `error` is None when the server ended the stream cleanly. The very first
        connection is never retried: a server that is not there is reported at once.
        """
        if self.connections == 0 and error is not None:
            raise error
        if isinstance(error, LokiApiError) and error.status not in _RETRY_STATUSES:
            raise error
        if self._down_since is None:
            self._down_since = now
        limit = self._settings.reconnect_timeout
        if error is not None and limit is not None and now - self._down_since >= limit:
            raise error
        base = self._settings.reconnect_delay
        if self._parser.retry is not None:
            base = self._parser.retry / 1000
        delay = min(self._settings.max_reconnect_delay, base * float(2**self._failures))
        self._failures += 1
        return delay


def _decode(message: SSEMessage) -> Event | None:
    try:
        return msgspec.json.decode(message.data, type=Event)
    except msgspec.DecodeError:
        pass
    if message.event != HEARTBEAT:
        return None  # not an event frame this client knows: skipped, never fatal
    try:
        data = msgspec.json.decode(message.data) if message.data else {}
    except msgspec.DecodeError:
        data = {"raw": message.data}
    payload = data if isinstance(data, dict) else {"value": data}
    stamp = payload.get("timestamp")
    return Event(
        id=message.id or "",
        type=HEARTBEAT,
        timestamp=stamp if isinstance(stamp, str) else "",
        session_id=None,
        data=payload,
    )
