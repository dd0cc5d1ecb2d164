"""Serving the app: granian embedded in our own event loop, and a clean shutdown.

Embedding keeps everything in one process: sessions, their provider process
groups and the store all belong to the process that serves, so a signal (or a
kill -9 followed by recovery) accounts for all of them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
from collections.abc import Callable

from granian.constants import HTTPModes, Interfaces
from granian.server.embed import Server

from loki_mode.api.app import create_app
from loki_mode.errors import ConfigError
from loki_mode.runtime import Runtime
from loki_mode.settings import Settings

log = logging.getLogger("loki")
STREAM_FLUSH = 0.2  # seconds for open streams to send the sessions' final events
DRAIN_GRACE = 5.0  # seconds granted to connections to drain once the server stops


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(settings: Settings) -> None:
    if not is_loopback_host(settings.host) and not settings.token and settings.auth:
        raise ConfigError(
            f"Refusing to listen on {settings.host} without a token: set LOKI_API_TOKEN "
            "(see `loki serve --generate-token`), or bind to 127.0.0.1."
        )


async def serve(settings: Settings, on_ready: Callable[[], None] | None = None) -> None:
    check(settings)
    runtime = Runtime(settings)
    app = create_app(settings, runtime)
    server = Server(
        app,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        log_enabled=False,
        backlog=2048,
    )
    loop = asyncio.get_running_loop()
    stopping: asyncio.Task[None] | None = None

    async def graceful() -> None:
        log.info("shutting down: stopping sessions, then closing event streams")
        await runtime.engine.stop()  # open streams still carry the sessions' last events
        await asyncio.sleep(STREAM_FLUSH)
        if runtime.shutting_down is not None:
            runtime.shutting_down.set()
        runtime.bus.close_all()
        server.stop()  # type: ignore[no-untyped-call]
        # granian waits for every connection to drain; a client that stopped reading
        # would hold the process forever. Everything is in the store by now.
        await asyncio.sleep(DRAIN_GRACE)
        log.warning("connections did not drain within %.0f s; exiting anyway", DRAIN_GRACE)
        await runtime.stop()
        os._exit(0)

    def shutdown() -> None:
        nonlocal stopping
        if stopping is None:
            stopping = asyncio.ensure_future(graceful())

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown)
    if on_ready is not None:
        loop.call_later(0.2, on_ready)
    try:
        await server.serve()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
