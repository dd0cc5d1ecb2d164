"""Bare apps on the server's own stack, the yardstick of benchmark 1.

`python -m bench.bare starlette|asgi --port P` serves the same two JSON bodies as
`GET /health/live` and `GET /api/sessions` (empty store), through granian's embedded
server configured exactly as `loki_mode.server.serve` configures it:

- starlette: a plain Starlette app, two routes returning JSONResponse, no middleware;
- asgi: one ASGI callable that matches the path and sends prebuilt bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from granian.constants import HTTPModes, Interfaces
from granian.server.embed import Server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

LIVE = {"status": "alive"}
SESSIONS: dict[str, Any] = {"sessions": [], "total": 0, "running": 0}


def starlette_app() -> Starlette:
    async def live(request: Request) -> JSONResponse:
        return JSONResponse(LIVE)

    async def sessions(request: Request) -> JSONResponse:
        return JSONResponse(SESSIONS)

    return Starlette(
        routes=[
            Route("/health/live", live, methods=["GET"]),
            Route("/api/sessions", sessions, methods=["GET"]),
        ]
    )


def asgi_app() -> Any:
    bodies = {
        "/health/live": b'{"status":"alive"}',
        "/api/sessions": b'{"sessions":[],"total":0,"running":0}',
    }
    json_headers = [(b"content-type", b"application/json")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = bodies.get(scope["path"])
        status = 200 if body is not None else 404
        body = body or b'{"error":"not found"}'
        headers = [*json_headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def serve(kind: str, port: int) -> None:
    app = starlette_app() if kind == "starlette" else asgi_app()
    server = Server(
        app,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        log_enabled=False,
        backlog=2048,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop)
    await server.serve()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("kind", choices=("starlette", "asgi"))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.kind, args.port))


if __name__ == "__main__":
    main()
