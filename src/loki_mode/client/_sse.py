"""A pure, incremental Server-Sent Events parser: bytes or lines in, messages out.

It follows the WHATWG "event stream interpretation" rules: lines end with CRLF,
LF or CR (a CR at the end of one chunk and the LF at the start of the next are
one line end); a leading UTF-8 BOM is dropped; `:` lines are comments; a field
without a colon has an empty value; one space after the colon is dropped;
`data` lines join with LF; an `id` containing NUL is ignored; `retry` takes
digits only; a blank line dispatches; an event without data is not dispatched;
an unterminated event at the end of the stream is discarded.

It does no I/O, so the sync and async clients share it and tests feed it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEMessage", "SSEParser"]

_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """One dispatched event: `id` is the frame's own `id:` field (None when it had none)."""

    event: str
    data: str
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Feed it bytes (`feed`) or decoded lines (`feed_line`); collect the messages it returns.

    `last_event_id` follows the spec's "last event ID buffer": it keeps the most
    recent `id:` seen, across frames that carry none.
    """

    def __init__(self) -> None:
        self._pending = b""
        self._skip_lf = False
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._has_data = False
        self.last_event_id: str | None = None
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        """Parse a chunk of the raw stream; return the messages it completes."""
        out: list[SSEMessage] = []
        if not chunk:
            return out
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buf = self._pending + chunk
        start = 0
        size = len(buf)
        cr = lf = -2  # next CR / LF at or after `start`; -2 unknown, -1 none left
        while start < size:
            if cr != -1 and cr < start:
                cr = buf.find(b"\r", start)
            if lf != -1 and lf < start:
                lf = buf.find(b"\n", start)
            if cr == -1 and lf == -1:
                break
            if cr == -1 or (lf != -1 and lf < cr):
                end, nxt = lf, lf + 1
            elif cr + 1 < size:
                end, nxt = cr, cr + 2 if buf[cr + 1 : cr + 2] == b"\n" else cr + 1
            else:  # CR is the last byte: its LF may come with the next chunk
                end, nxt = cr, cr + 1
                self._skip_lf = True
            message = self.feed_line(buf[start:end].decode("utf-8", errors="replace"))
            if message is not None:
                out.append(message)
            start = nxt
        self._pending = buf[start:]
        return out

    def feed_line(self, line: str) -> SSEMessage | None:
        """Interpret one line (without its terminator); return a message when it dispatches one."""
        if not self._started:
            self._started = True
            if line.startswith(_BOM):
                line = line[1:]
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\x00" not in value:
                self._id = value
                self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
            self.retry = self._retry
        return None

    def close(self) -> None:
        """End of stream: drop an unterminated event (the spec discards it) and reset."""
        self._pending = b""
        self._skip_lf = False
        self._started = False
        self._reset()

    def _dispatch(self) -> SSEMessage | None:
        if not self._has_data:
            self._reset()
            return None
        message = SSEMessage(
            event=self._event or "message",
            data="\n".join(self._data),
            id=self._id,
            retry=self._retry,
        )
        self._reset()
        return message

    def _reset(self) -> None:
        self._data = []
        self._event = ""
        self._id = None
        self._retry = None
        self._has_data = False
