"""`AsyncLokiClient`: the asyncio client (httpx.AsyncClient), twin of `LokiClient`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from types import TracebackType
from typing import TypeVar

import httpx

from loki_mode.client import _base as ops
from loki_mode.client._base import TRANSPORT_ERRORS, Call, ClientSettings
from loki_mode.client._errors import LokiError
from loki_mode.client._stream import EventStream
from loki_mode.models import (
    AgentList,
    ControlResponse,
    DeleteResponse,
    Event,
    EventHistory,
    EventStats,
    HealthResponse,
    ServerStatus,
    SessionList,
    SessionStatusResponse,
    StartSessionResponse,
    Task,
    TaskList,
    TaskPage,
)

T = TypeVar("T")


class AsyncLokiClient:
    """Talks to a Loki Mode server. Use it as an async context manager, or `await aclose()`.

    Settings are keyword-only: `base_url` (else `$LOKI_API_URL`, else
    `http://127.0.0.1:8420`), `token` (else `$LOKI_API_TOKEN`), `timeout`, or a
    whole `settings` object (then the environment is not read). `transport`
    replaces the network, e.g. `httpx.ASGITransport(app)` or `httpx.MockTransport`.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        settings: ClientSettings | None = None,
        use_env: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = ClientSettings.resolve(
            settings, base_url=base_url, token=token, timeout=timeout, use_env=use_env
        )
        self._http = httpx.AsyncClient(
            base_url=self.settings.root_url(),
            headers=self.settings.request_headers(),
            timeout=self.settings.timeout,
            transport=transport,
            trust_env=use_env,
        )

    async def __aenter__(self) -> AsyncLokiClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method,
                call.path,
                params=call.params,
                content=call.body,
                headers=call.headers(),
            )
        except TRANSPORT_ERRORS as exc:
            raise ops.connection_error(exc, self.settings) from exc
        return ops.finish(call, response)

    # -- health ------------------------------------------------------------------

    async def health(self) -> HealthResponse:
        """`GET /health`; a degraded or unhealthy server (503) is an answer, not an error."""
        return await self._send(ops.health())

    async def ready(self) -> bool:
        return await self._send(ops.ready())

    async def live(self) -> bool:
        return await self._send(ops.live())

    async def status(self) -> ServerStatus:
        return await self._send(ops.status())

    # -- sessions ----------------------------------------------------------------

    async def list_sessions(self) -> SessionList:
        return await self._send(ops.list_sessions())

    async def start_session(
        self,
        prd_path: str | None = None,
        *,
        provider: str | None = None,
        dry_run: bool = False,
        verbose: bool = False,
        timeout: int | None = None,
        project_dir: str | None = None,
        max_iterations: int | None = None,
        completion_promise: str | None = None,
    ) -> StartSessionResponse:
        return await self._send(
            ops.start_session(
                prd_path=prd_path,
                provider=provider,
                dry_run=dry_run,
                verbose=verbose,
                timeout=timeout,
                project_dir=project_dir,
                max_iterations=max_iterations,
                completion_promise=completion_promise,
            )
        )

    async def get_session(self, session_id: str) -> SessionStatusResponse:
        return await self._send(ops.get_session(session_id))

    async def delete_session(self, session_id: str) -> DeleteResponse:
        return await self._send(ops.delete_session(session_id))

    async def stop_session(self, session_id: str) -> ControlResponse:
        return await self._send(ops.control(session_id, "stop"))

    async def pause_session(self, session_id: str) -> ControlResponse:
        return await self._send(ops.control(session_id, "pause"))

    async def resume_session(self, session_id: str) -> ControlResponse:
        return await self._send(ops.control(session_id, "resume"))

    async def send_input(
        self, session_id: str, text: str, context: str | None = None
    ) -> ControlResponse:
        return await self._send(ops.send_input(session_id, text, context))

    # -- tasks and agents --------------------------------------------------------

    async def list_tasks(
        self,
        session_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> TaskPage:
        return await self._send(
            ops.list_tasks(session_id, status=status, limit=limit, offset=offset)
        )

    async def get_task(self, session_id: str, task_id: str) -> Task:
        return await self._send(ops.get_task(session_id, task_id))

    async def list_agents(self, session_id: str) -> AgentList:
        return await self._send(ops.list_agents(session_id))

    async def list_all_tasks(
        self, *, status: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> TaskPage:
        return await self._send(ops.list_all_tasks(status=status, limit=limit, offset=offset))

    async def active_tasks(self) -> TaskList:
        return await self._send(ops.active_tasks())

    async def queued_tasks(self) -> TaskList:
        return await self._send(ops.queued_tasks())

    # -- events ------------------------------------------------------------------

    async def event_history(
        self,
        *,
        session_id: str | None = None,
        types: str | Sequence[str] | None = None,
        limit: int | None = None,
    ) -> EventHistory:
        return await self._send(ops.event_history(session_id=session_id, types=types, limit=limit))

    async def event_stats(self) -> EventStats:
        return await self._send(ops.event_stats())

    async def events(
        self,
        session_id: str | None = None,
        *,
        types: str | Sequence[str] | None = None,
        min_level: str | None = None,
        history: int | None = None,
        last_event_id: str | None = None,
        include_heartbeats: bool = False,
        reconnect: bool = True,
    ) -> AsyncGenerator[Event, None]:
        """Follow `GET /api/events`, yielding `Event`s until the caller stops iterating.

        A dropped connection (or a restarted server) is resumed with `Last-Event-ID`
        after a short backoff, without a gap or a duplicate. The first connection is
        not retried: a server that is not running raises `LokiConnectionError` at once.
        """
        stream = EventStream(
            self.settings,
            session_id=session_id,
            types=types,
            min_level=min_level,
            history=history,
            last_event_id=last_event_id,
            include_heartbeats=include_heartbeats,
        )
        if stream.needs_start:
            stream.start_at(
                await self._send(ops.event_history(session_id=None, types=None, limit=1))
            )
        timeout = httpx.Timeout(self.settings.timeout, read=self.settings.stream_read_timeout)
        while True:
            error: LokiError | None = None
            try:
                async with self._http.stream(
                    "GET",
                    "/api/events",
                    params=stream.params(),
                    headers=stream.headers(),
                    timeout=timeout,
                ) as response:
                    if response.status_code != 200:
                        await response.aread()
                        error = ops.api_error(response)
                    else:
                        stream.opened()
                        async for chunk in response.aiter_bytes():
                            for event in stream.feed(chunk):
                                yield event
            except TRANSPORT_ERRORS as exc:
                error = ops.connection_error(exc, self.settings)
                error.__cause__ = exc
            if not reconnect:
                if error is not None:
                    raise error
                return
            await asyncio.sleep(stream.retry_after(error, time.monotonic()))
