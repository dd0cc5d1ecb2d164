"""What the sync and async clients share: settings, request building, decoding, error mapping.

Every operation is described once here as a `Call` (method, path, query, body
and how to decode the answer); the twins only send it, each with its own I/O.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from loki_mode import __version__
from loki_mode.client._errors import LokiApiError, LokiConnectionError
from loki_mode.models import (
    AgentList,
    ControlResponse,
    DeleteResponse,
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

DEFAULT_BASE_URL = "http://127.0.0.1:8420"
URL_ENV = "LOKI_API_URL"
TOKEN_ENV = "LOKI_API_TOKEN"

Params = dict[str, str]


@dataclass(frozen=True, kw_only=True, slots=True)
class ClientSettings:
    """How a client reaches the server. Build it with `resolve()` to consult the environment.

    `timeout` bounds every ordinary request; the event stream uses
    `stream_read_timeout` between two reads (keep-alives arrive well within it;
    None waits forever) and reconnects after `reconnect_delay` seconds, doubling
    up to `max_reconnect_delay`, giving up once the server has been unreachable
    for `reconnect_timeout` seconds (None: never).
    """

    base_url: str = DEFAULT_BASE_URL
    token: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    stream_read_timeout: float | None = 120.0
    reconnect_delay: float = 0.25
    max_reconnect_delay: float = 5.0
    reconnect_timeout: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def resolve(
        cls,
        settings: ClientSettings | None = None,
        *,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        use_env: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> ClientSettings:
        """Arguments win, then `settings`, then (only without `settings`) the environment."""
        result = settings or cls()
        env = environ if environ is not None else os.environ
        read_env = use_env and settings is None
        url = base_url or (env.get(URL_ENV) if read_env else None)
        if url:
            result = replace(result, base_url=url)
        key = token if token is not None else (env.get(TOKEN_ENV) if read_env else None)
        if key:
            result = replace(result, token=key)
        if timeout is not None:
            result = replace(result, timeout=timeout)
        return result

    def request_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": f"loki-mode-client/{__version__}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(self.headers)
        return headers

    def root_url(self) -> str:
        return self.base_url.rstrip("/")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One operation: what to send and how to read a successful answer."""

    method: str
    path: str
    decode: Callable[[int, bytes], T]
    params: Params | None = None
    body: bytes | None = None
    ok: frozenset[int] = frozenset({200})

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json"} if self.body is not None else {}


def model(kind: type[T]) -> Callable[[int, bytes], T]:
    """A decoder of a JSON body into `kind`; a mismatch becomes `LokiApiError(INVALID_RESPONSE)`."""

    def decode(status: int, content: bytes) -> T:
        try:
            return msgspec.json.decode(content, type=kind)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
            raise LokiApiError(
                status,
                "INVALID_RESPONSE",
                f"unexpected response body: {exc}",
                {"body": content[:500].decode("utf-8", "replace")},
            ) from exc

    return decode


def _probe(status: int, content: bytes) -> bool:
    return status == 200


def finish(call: Call[T], response: httpx.Response) -> T:
    """Decode a read response, or raise the error it carries."""
    if response.status_code in call.ok:
        return call.decode(response.status_code, response.content)
    raise api_error(response)


def api_error(response: httpx.Response) -> LokiApiError:
    """Map an error response (an `ApiError` body, or anything else) onto `LokiApiError`."""
    status = response.status_code
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        details = body.get("details")
        return LokiApiError(
            status,
            body["code"],
            str(body.get("error") or body["code"]),
            details if isinstance(details, dict) else {},
        )
    text = response.content[:200].decode("utf-8", "replace").strip()
    message = f"HTTP {status} {response.reason_phrase}".strip()
    return LokiApiError(status, f"HTTP_{status}", f"{message}: {text}" if text else message)


def connection_error(exc: Exception, settings: ClientSettings) -> LokiConnectionError:
    """Map an httpx transport error onto `LokiConnectionError`, saying what went wrong."""
    url = settings.root_url()
    if isinstance(exc, httpx.ConnectError):
        reason = "connection refused or host unreachable"
    elif isinstance(exc, httpx.TimeoutException):
        reason = f"timed out ({type(exc).__name__})"
    elif isinstance(exc, httpx.RemoteProtocolError):
        reason = "the server closed the connection"
    else:
        reason = str(exc) or type(exc).__name__
    message = f"cannot reach the Loki server at {url}: {reason}"
    return LokiConnectionError(message, url=url, reason=reason)


# Errors that mean "no usable answer": converted to LokiConnectionError where they enter.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TransportError,
    httpx.InvalidURL,
)


def _id(value: str) -> str:
    return quote(value, safe="")


def _query(**values: object) -> Params:
    return {key: str(value) for key, value in values.items() if value is not None}


def join_types(types: str | Sequence[str] | None) -> str | None:
    if types is None or isinstance(types, str):
        return types or None
    return ",".join(types) or None


def _json(obj: object) -> bytes:
    return msgspec.json.encode(obj)


# --- Health -----------------------------------------------------------------


def health() -> Call[HealthResponse]:
    # 503 (degraded / unhealthy) carries the same body: it is an answer, not an error.
    return Call("GET", "/health", model(HealthResponse), ok=frozenset({200, 503}))


def ready() -> Call[bool]:
    return Call("GET", "/health/ready", _probe, ok=frozenset({200, 503}))


def live() -> Call[bool]:
    return Call("GET", "/health/live", _probe, ok=frozenset({200, 503}))


def status() -> Call[ServerStatus]:
    return Call("GET", "/api/status", model(ServerStatus))


# --- Sessions ---------------------------------------------------------------


def list_sessions() -> Call[SessionList]:
    return Call("GET", "/api/sessions", model(SessionList))


def start_session(
    *,
    prd_path: str | None,
    provider: str | None,
    dry_run: bool,
    verbose: bool,
    timeout: int | None,
    project_dir: str | None,
    max_iterations: int | None = None,
    completion_promise: str | None = None,
) -> Call[StartSessionResponse]:
    options: dict[str, Any] = {"dryRun": dry_run, "verbose": verbose}
    if timeout is not None:
        options["timeout"] = timeout
    if max_iterations is not None:
        options["maxIterations"] = max_iterations
    if completion_promise is not None:
        options["completionPromise"] = completion_promise
    body: dict[str, Any] = {"options": options}
    if prd_path is not None:
        body["prdPath"] = prd_path
    if provider is not None:
        body["provider"] = provider
    if project_dir is not None:
        body["projectDir"] = project_dir
    return Call(
        "POST",
        "/api/sessions",
        model(StartSessionResponse),
        body=_json(body),
        ok=frozenset({200, 201}),
    )


def get_session(session_id: str) -> Call[SessionStatusResponse]:
    return Call("GET", f"/api/sessions/{_id(session_id)}", model(SessionStatusResponse))


def delete_session(session_id: str) -> Call[DeleteResponse]:
    return Call("DELETE", f"/api/sessions/{_id(session_id)}", model(DeleteResponse))


def control(session_id: str, action: str) -> Call[ControlResponse]:
    """stop / pause / resume: a bodiless POST."""
    return Call("POST", f"/api/sessions/{_id(session_id)}/{action}", model(ControlResponse))


def send_input(session_id: str, text: str, context: str | None) -> Call[ControlResponse]:
    body: dict[str, str] = {"input": text}
    if context is not None:
        body["context"] = context
    return Call(
        "POST",
        f"/api/sessions/{_id(session_id)}/input",
        model(ControlResponse),
        body=_json(body),
    )


# --- Tasks and agents -------------------------------------------------------


def list_tasks(
    session_id: str, *, status: str | None, limit: int | None, offset: int | None
) -> Call[TaskPage]:
    return Call(
        "GET",
        f"/api/sessions/{_id(session_id)}/tasks",
        model(TaskPage),
        params=_query(status=status, limit=limit, offset=offset),
    )


def get_task(session_id: str, task_id: str) -> Call[Task]:
    return Call("GET", f"/api/sessions/{_id(session_id)}/tasks/{_id(task_id)}", model(Task))


def list_agents(session_id: str) -> Call[AgentList]:
    return Call("GET", f"/api/sessions/{_id(session_id)}/agents", model(AgentList))


def list_all_tasks(*, status: str | None, limit: int | None, offset: int | None) -> Call[TaskPage]:
    params = _query(status=status, limit=limit, offset=offset)
    return Call("GET", "/api/tasks", model(TaskPage), params=params)


def active_tasks() -> Call[TaskList]:
    return Call("GET", "/api/tasks/active", model(TaskList))


def queued_tasks() -> Call[TaskList]:
    return Call("GET", "/api/tasks/queue", model(TaskList))


# --- Events -----------------------------------------------------------------


def event_history(
    *, session_id: str | None, types: str | Sequence[str] | None, limit: int | None
) -> Call[EventHistory]:
    params = _query(sessionId=session_id, types=join_types(types), limit=limit)
    return Call("GET", "/api/events/history", model(EventHistory), params=params)


def event_stats() -> Call[EventStats]:
    return Call("GET", "/api/events/stats", model(EventStats))
