"""`LokiClient`: the blocking client (httpx.Client), twin of `AsyncLokiClient`."""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
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


class LokiClient:
    """Talks to a Loki Mode server. Use it as a context manager, or call `close()`.

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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = ClientSettings.resolve(
            settings, base_url=base_url, token=token, timeout=timeout, use_env=use_env
        )
        self._http = httpx.Client(
            base_url=self.settings.root_url(),
            headers=self.settings.request_headers(),
            timeout=self.settings.timeout,
            transport=transport,
            trust_env=use_env,
        )

    def __enter__(self) -> LokiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        try:
            response = self._http.request(
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

    def health(self) -> HealthResponse:
        """`GET /health`; a degraded or unhealthy server (503) is an answer, not an error."""
        return self._send(ops.health())

    def ready(self) -> bool:
        return self._send(ops.ready())

    def live(self) -> bool:
        return self._send(ops.live())

    def status(self) -> ServerStatus:
        return self._send(ops.status())

    # -- sessions ----------------------------------------------------------------

    def list_sessions(self) -> SessionList:
        return self._send(ops.list_sessions())

    def start_session(
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
        return self._send(
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

    def get_session(self, session_id: str) -> SessionStatusResponse:
        return self._send(ops.get_session(session_id))

    def delete_session(self, session_id: str) -> DeleteResponse:
        return self._send(ops.delete_session(session_id))

    def stop_session(self, session_id: str) -> ControlResponse:
        return self._send(ops.control(session_id, "stop"))

    def pause_session(self, session_id: str) -> ControlResponse:
        return self._send(ops.control(session_id, "pause"))

    def resume_session(self, session_id: str) -> ControlResponse:
        return self._send(ops.control(session_id, "resume"))

    def send_input(self, session_id: str, text: str, context: str | None = None) -> ControlResponse:
        return self._send(ops.send_input(session_id, text, context))

    # -- tasks and agents --------------------------------------------------------

    def list_tasks(
        self,
        session_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> TaskPage:
        return self._send(ops.list_tasks(session_id, status=status, limit=limit, offset=offset))

    def get_task(self, session_id: str, task_id: str) -> Task:
        return self._send(ops.get_task(session_id, task_id))

    def list_agents(self, session_id: str) -> AgentList:
        return self._send(ops.list_agents(session_id))

    def list_all_tasks(
        self, *, status: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> TaskPage:
        return self._send(ops.list_all_tasks(status=status, limit=limit, offset=offset))

    def active_tasks(self) -> TaskList:
        return self._send(ops.active_tasks())

    def queued_tasks(self) -> TaskList:
        return self._send(ops.queued_tasks())

    # -- events ------------------------------------------------------------------

    def event_history(
        self,
        *,
        session_id: str | None = None,
        types: str | Sequence[str] | None = None,
        limit: int | None = None,
    ) -> EventHistory:
        return self._send(ops.event_history(session_id=session_id, types=types, limit=limit))

    def event_stats(self) -> EventStats:
        return self._send(ops.event_stats())

    def events(
        self,
        session_id: str | None = None,
        *,
        types: str | Sequence[str] | None = None,
        min_level: str | None = None,
        history: int | None = None,
        last_event_id: str | None = None,
        include_heartbeats: bool = False,
        reconnect: bool = True,
    ) -> Generator[Event, None, None]:
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
            stream.start_at(self._send(ops.event_history(session_id=None, types=None, limit=1)))
        timeout = httpx.Timeout(self.settings.timeout, read=self.settings.stream_read_timeout)
        while True:
            error: LokiError | None = None
            try:
                with self._http.stream(
                    "GET",
                    "/api/events",
                    params=stream.params(),
                    headers=stream.headers(),
                    timeout=timeout,
                ) as response:
                    if response.status_code != 200:
                        response.read()
                        error = ops.api_error(response)
                    else:
                        stream.opened()
                        for chunk in response.iter_bytes():
                            yield from stream.feed(chunk)
            except TRANSPORT_ERRORS as exc:
                error = ops.connection_error(exc, self.settings)
                error.__cause__ = exc
            if not reconnect:
                if error is not None:
                    raise error
                return
            time.sleep(stream.retry_after(error, time.monotonic()))
