"""A minimal SSE client over `asyncio.open_connection`: cheap enough for 1,000 streams.

One GET per connection, HTTP/1.1 chunked bodies decoded by hand, and frames handed
back in whole blocks (everything up to the last blank line), so callers scan many
frames with one regex call instead of parsing them one by one.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from dataclasses import dataclass, field

HOST = "127.0.0.1"


class StreamError(RuntimeError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Dechunker:
    """Incremental decoder of `Transfer-Encoding: chunked` bodies."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._remaining = 0  # data bytes left in the current chunk
        self._skip = 0  # CRLF bytes left after the current chunk
        self.finished = False

    def feed(self, data: bytes) -> bytes:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos, end = 0, len(buf)
        while pos < end and not self.finished:
            if self._remaining:
                take = min(self._remaining, end - pos)
                out.append(bytes(buf[pos : pos + take]))
                pos += take
                self._remaining -= take
                if self._remaining:
                    break
                self._skip = 2
            if self._skip:
                take = min(self._skip, end - pos)
                pos += take
                self._skip -= take
                if self._skip:
                    break
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
            pos = eol + 2
            if size == 0:
                self.finished = True
            self._remaining = size
        del buf[:pos]
        return b"".join(out)


@dataclass(eq=False)
class Stream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    chunked: bool
    dechunker: Dechunker = field(default_factory=Dechunker)
    pending: bytes = b""  # decoded bytes after the last complete frame
    received: int = 0

    async def read(self, size: int = 262144) -> bytes | None:
        """Decoded body bytes from one socket read (maybe empty); None at end of stream."""
        data = await self.reader.read(size)
        if not data:
            return None
        self.received += len(data)
        if not self.chunked:
            return data
        body = self.dechunker.feed(data)
        return None if self.dechunker.finished and not body else body

    async def frames(self) -> bytes | None:
        """The next block of complete frames (may be b''); None at end of stream."""
        while True:
            data = await self.read()
            if data is None:
                return None
            text = self.pending + data if self.pending else data
            cut = text.rfind(b"\n\n")
            if cut < 0:
                self.pending = text
                continue
            self.pending = text[cut + 2 :]
            return text[: cut + 2]

    def close(self, abort: bool = False) -> None:
        if abort:
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER 0: close with RST, as a crashed client would.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.close()


async def connect(
    port: int,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    rcvbuf: int | None = None,
    limit: int = 2**20,
    timeout: float = 10.0,
) -> Stream:
    """Open `GET path` as an event stream; return once the response headers are read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), timeout)
        reader, writer = await asyncio.open_connection(sock=sock, limit=limit)
    except BaseException:
        sock.close()
        raise
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: text/event-stream"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except BaseException:
        writer.close()
        raise
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or parts[1] != "200":
        writer.close()
        code = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        raise StreamError(f"GET {path}: {status_line}", code)
    chunked = any(
        h.lower().startswith("transfer-encoding:") and "chunked" in h.lower() for h in header_lines
    )
    return Stream(reader, writer, chunked)


async def connect_many(
    port: int, path: str, count: int, batch: int = 100, **kw: object
) -> list[Stream]:
    """`count` streams, opened `batch` at a time so the listen backlog never overflows."""
    streams: list[Stream] = []
    try:
        for start in range(0, count, batch):
            n = min(batch, count - start)
            streams += await asyncio.gather(*(connect(port, path, **kw) for _ in range(n)))  # type: ignore[arg-type]
    except BaseException:
        for s in streams:
            s.close()
        raise
    return streams


async def wait_connected(stream: Stream, timeout: float = 10.0) -> None:
    """Read until the server's `: connected` comment, so the subscriber is registered."""

    async def until() -> None:
        seen = b""
        while b": connected\n\n" not in seen:
            data = await stream.read()
            if data is None:
                raise StreamError("stream ended before it was connected")
            seen += data
        mark = b": connected\n\n"
        at = seen.find(mark)
        stream.pending = seen[at + len(mark) :] if at >= 0 else b""

    await asyncio.wait_for(until(), timeout)
