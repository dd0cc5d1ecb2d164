"""Server-Sent Events wire format: pure functions, no I/O.

An event's JSON never holds a raw newline (JSON escapes it), so each event is
exactly one `data:` line.
"""

from __future__ import annotations


def frame(seq: int, type_: str, payload: bytes) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, type_.encode(), payload)


def ephemeral(type_: str, payload: bytes) -> bytes:
    """A frame without `id:`, so it never moves a client's Last-Event-ID (heartbeats)."""
    return b"event: %s\ndata: %s\n\n" % (type_.encode(), payload)


def comment(text: str) -> bytes:
    return b": %s\n\n" % text.encode()


RETRY = b"retry: 2000\n\n"
