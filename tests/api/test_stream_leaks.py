"""Regression: event streams dropped by their clients left their watchers behind.

Granian's receive() returns a future the garbage collector cannot see into; a
reference cycle through it (watch -> future -> callback -> watch) was never freed,
so every stream a client dropped leaked its watcher, and with it the subscriber
(about 1.5 KiB a stream; the five-minute soak grew by a quarter).
"""

from __future__ import annotations

import asyncio
import gc
import socket
import struct
import threading
from pathlib import Path

import pytest
from granian.constants import HTTPModes, Interfaces
from granian.server.embed import Server

from loki_mode.api.app import create_app
from loki_mode.api.bus import Subscriber
from loki_mode.api.stream import DisconnectWatch
from loki_mode.settings import from_env
from tests.conftest import free_port, wait_for

pytestmark = pytest.mark.e2e


def _drop_streams(port: int, count: int) -> None:
    for i in range(count):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /api/events?types=task:* HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.recv(4096)
            if i % 2:  # half of them reset the connection instead of closing it
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


def test_dropped_event_streams_leave_no_watcher_behind(tmp_path: Path) -> None:
    app = create_app(from_env({}, project_dir=tmp_path))
    port = free_port()
    loop = asyncio.new_event_loop()
    server = Server(
        app,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        log_enabled=False,
    )
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),))
    thread.start()
    try:
        wait_for(lambda: _connectable(port))
        _drop_streams(port, 60)
        wait_for(lambda: app.state.runtime.bus.subscribers == 0)
        wait_for(lambda: _alive(DisconnectWatch) == 0 and _alive(Subscriber) == 0, timeout=10)
    finally:
        loop.call_soon_threadsafe(server.stop)
        thread.join(timeout=20)
        loop.close()


def _connectable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
