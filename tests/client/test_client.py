"""The client library in-process: requests it builds, models it decodes, errors it maps,
the SSE parser on awkward input, and the event follower's resume without gap or duplicate."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from loki_mode.client import (
    AgentList,
    AsyncLokiClient,
    ClientSettings,
    ControlResponse,
    DeleteResponse,
    Event,
    EventHistory,
    EventStats,
    HealthResponse,
    LokiApiError,
    LokiClient,
    LokiConnectionError,
    ServerStatus,
    SessionList,
    SessionStatusResponse,
    StartSessionResponse,
    Task,
    TaskList,
    TaskPage,
)
from loki_mode.client._sse import SSEMessage, SSEParser

NOW = "2025-01-01T00:00:00Z"
SESSION = {
    "id": "s1",
    "prdPath": None,
    "provider": "claude",
    "status": "running",
    "startedAt": NOW,
    "updatedAt": NOW,
}
TASK = {
    "id": "t1",
    "sessionId": "s1",
    "title": "iteration-1",
    "description": "",
    "status": "running",
    "priority": 0,
    "createdAt": NOW,
}
AGENT = {
    "id": "a1",
    "sessionId": "s1",
    "type": "main",
    "description": "main agent",
    "status": "active",
    "spawnedAt": NOW,
}
COUNTS = {"total": 1, "running": 1}
PAGE = {
    "tasks": [TASK],
    "pagination": {"total": 1, "limit": 100, "offset": 0, "hasMore": False},
    "summary": COUNTS,
}
HEALTH = {
    "status": "healthy",
    "version": "0.1.0",
    "uptime": 5,
    "providers": {"claude": True, "codex": False, "gemini": False},
}
CONTROL = {"sessionId": "s1", "status": "stopping", "message": "ok", "controlId": "c1"}


def event(seq: int, type_: str = "log:info", **data: Any) -> dict[str, Any]:
    return {"id": str(seq), "type": type_, "timestamp": NOW, "sessionId": "s1", "data": data}


# One row per operation: call, expected method and path, canned body, expected model.
Op = Callable[[Any], Any]
OPERATIONS: list[tuple[str, Op, str, str, Any, type]] = [
    ("health", lambda c: c.health(), "GET", "/health", HEALTH, HealthResponse),
    ("status", lambda c: c.status(), "GET", "/api/status", {"version": "1"}, ServerStatus),
    (
        "list_sessions",
        lambda c: c.list_sessions(),
        "GET",
        "/api/sessions",
        {"sessions": [SESSION], "total": 1, "running": 1},
        SessionList,
    ),
    (
        "start_session",
        lambda c: c.start_session(),
        "POST",
        "/api/sessions",
        {"sessionId": "s1", "status": "starting", "message": "started"},
        StartSessionResponse,
    ),
    (
        "get_session",
        lambda c: c.get_session("s1"),
        "GET",
        "/api/sessions/s1",
        {"session": SESSION, "tasks": COUNTS, "agents": {"active": 1}, "activeAgents": [AGENT]},
        SessionStatusResponse,
    ),
    (
        "delete_session",
        lambda c: c.delete_session("s1"),
        "DELETE",
        "/api/sessions/s1",
        {"sessionId": "s1", "deleted": True},
        DeleteResponse,
    ),
    (
        "stop",
        lambda c: c.stop_session("s1"),
        "POST",
        "/api/sessions/s1/stop",
        CONTROL,
        ControlResponse,
    ),
    (
        "pause",
        lambda c: c.pause_session("s1"),
        "POST",
        "/api/sessions/s1/pause",
        CONTROL,
        ControlResponse,
    ),
    (
        "resume",
        lambda c: c.resume_session("s1"),
        "POST",
        "/api/sessions/s1/resume",
        CONTROL,
        ControlResponse,
    ),
    (
        "send_input",
        lambda c: c.send_input("s1", "hi"),
        "POST",
        "/api/sessions/s1/input",
        CONTROL,
        ControlResponse,
    ),
    ("list_tasks", lambda c: c.list_tasks("s1"), "GET", "/api/sessions/s1/tasks", PAGE, TaskPage),
    ("get_task", lambda c: c.get_task("s1", "t1"), "GET", "/api/sessions/s1/tasks/t1", TASK, Task),
    (
        "list_agents",
        lambda c: c.list_agents("s1"),
        "GET",
        "/api/sessions/s1/agents",
        {"agents": [AGENT], "count": 1},
        AgentList,
    ),
    ("list_all_tasks", lambda c: c.list_all_tasks(), "GET", "/api/tasks", PAGE, TaskPage),
    (
        "active_tasks",
        lambda c: c.active_tasks(),
        "GET",
        "/api/tasks/active",
        {"tasks": [TASK], "count": 1},
        TaskList,
    ),
    (
        "queued_tasks",
        lambda c: c.queued_tasks(),
        "GET",
        "/api/tasks/queue",
        {"tasks": [], "count": 0},
        TaskList,
    ),
    (
        "event_history",
        lambda c: c.event_history(),
        "GET",
        "/api/events/history",
        {"events": [event(1)], "count": 1},
        EventHistory,
    ),
    (
        "event_stats",
        lambda c: c.event_stats(),
        "GET",
        "/api/events/stats",
        {"subscribers": 0, "historySize": 3, "byType": {"log:info": 3}},
        EventStats,
    ),
]


class Recorder:
    """A MockTransport handler answering one canned response and keeping the requests."""

    def __init__(self, status: int = 200, body: Any = None, content: bytes | None = None) -> None:
        self.status = status
        self.content = content if content is not None else json.dumps(body).encode()
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(self.status, content=self.content)


def sync_client(handler: Any, **kwargs: Any) -> LokiClient:
    settings = ClientSettings(base_url="http://loki.test", token="tok", reconnect_delay=0)
    return LokiClient(settings=settings, transport=httpx.MockTransport(handler), **kwargs)


def async_client(handler: Any) -> AsyncLokiClient:
    settings = ClientSettings(base_url="http://loki.test", token="tok", reconnect_delay=0)
    return AsyncLokiClient(settings=settings, transport=httpx.MockTransport(handler))


# --- settings -----------------------------------------------------------------


def test_token_is_never_in_the_settings_repr() -> None:
    settings = ClientSettings(token="s3cret", headers={"X-API-Key": "s3cret"})
    assert "s3cret" not in repr(settings)


def test_settings_default_url_and_no_token() -> None:
    settings = ClientSettings.resolve(environ={})
    assert settings.base_url == "http://127.0.0.1:8420"
    assert settings.token is None
    assert "Authorization" not in settings.request_headers()


def test_settings_from_environment_and_arguments_win() -> None:
    env = {"LOKI_API_URL": "http://env:1/", "LOKI_API_TOKEN": "envtok"}
    assert ClientSettings.resolve(environ=env).base_url == "http://env:1/"
    assert ClientSettings.resolve(environ=env).request_headers()["Authorization"] == "Bearer envtok"
    chosen = ClientSettings.resolve(base_url="http://arg:2", token="argtok", environ=env)
    assert (chosen.base_url, chosen.token) == ("http://arg:2", "argtok")
    assert ClientSettings.resolve(use_env=False, environ=env).base_url == "http://127.0.0.1:8420"


def test_settings_object_is_not_overridden_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOKI_API_URL", "http://env:1")
    given = ClientSettings(base_url="http://given:3")
    with LokiClient(settings=given) as client:
        assert client.settings.base_url == "http://given:3"
    with LokiClient() as client:
        assert client.settings.base_url == "http://env:1"


def test_constructor_settings_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        LokiClient("http://x")  # type: ignore[call-arg]


# --- requests and decoding ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "call", "method", "path", "body", "kind"), OPERATIONS, ids=[o[0] for o in OPERATIONS]
)
def test_sync_operation(name: str, call: Op, method: str, path: str, body: Any, kind: type) -> None:
    recorder = Recorder(201 if name == "start_session" else 200, body)
    with sync_client(recorder) as client:
        result = call(client)
    assert isinstance(result, kind)
    (request,) = recorder.requests
    assert (request.method, request.url.path) == (method, path)
    assert request.headers["authorization"] == "Bearer tok"
    if request.content:
        assert request.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("name", "call", "method", "path", "body", "kind"), OPERATIONS, ids=[o[0] for o in OPERATIONS]
)
def test_async_operation(
    name: str, call: Op, method: str, path: str, body: Any, kind: type
) -> None:
    recorder = Recorder(201 if name == "start_session" else 200, body)

    async def run() -> Any:
        async with async_client(recorder) as client:
            return await call(client)

    assert isinstance(asyncio.run(run()), kind)
    (request,) = recorder.requests
    assert (request.method, request.url.path) == (method, path)


def test_start_session_body_is_camel_case_and_omits_unset() -> None:
    recorder = Recorder(201, {"sessionId": "s1", "status": "starting", "message": "m"})
    with sync_client(recorder) as client:
        client.start_session("PRD.md", provider="codex", dry_run=True, timeout=30)
        client.start_session(project_dir="/p")
    first, second = (json.loads(r.content) for r in recorder.requests)
    assert first == {
        "prdPath": "PRD.md",
        "provider": "codex",
        "options": {"dryRun": True, "verbose": False, "timeout": 30},
    }
    assert second == {"projectDir": "/p", "options": {"dryRun": False, "verbose": False}}


def test_input_body_and_query_parameters() -> None:
    recorder = Recorder(200, PAGE)
    with sync_client(recorder) as client:
        client.list_tasks("s1", status="running", limit=5, offset=10)
        client.list_all_tasks(status="failed")
    events = Recorder(200, {"events": [], "count": 0})
    with sync_client(events) as client:
        client.event_history(session_id="s1", types=["log:*", "task:completed"], limit=3)
    tasks, all_tasks, history = (dict(r.url.params) for r in recorder.requests + events.requests)
    assert tasks == {"status": "running", "limit": "5", "offset": "10"}
    assert all_tasks == {"status": "failed"}
    assert history == {"sessionId": "s1", "types": "log:*,task:completed", "limit": "3"}

    recorder = Recorder(200, CONTROL)
    with sync_client(recorder) as client:
        client.send_input("s1", "go on", context="ci")
        client.stop_session("s1")
    assert json.loads(recorder.requests[0].content) == {"input": "go on", "context": "ci"}
    assert recorder.requests[1].content == b""


def test_path_segments_are_escaped() -> None:
    recorder = Recorder(200, TASK)
    with sync_client(recorder) as client:
        client.get_task("a/b c", "../x")
    assert recorder.requests[0].url.raw_path == b"/api/sessions/a%2Fb%20c/tasks/..%2Fx"


def test_health_503_is_an_answer_and_probes_are_booleans() -> None:
    degraded = dict(HEALTH, status="degraded")
    with sync_client(Recorder(503, degraded)) as client:
        assert client.health().status == "degraded"
        assert client.ready() is False
    with sync_client(Recorder(200, {"status": "ok"})) as client:
        assert client.live() is True


# --- errors -------------------------------------------------------------------


def test_api_error_envelope_is_mapped() -> None:
    body = {
        "error": "Session already running",
        "code": "SESSION_ALREADY_RUNNING",
        "details": {"sessionId": "s9"},
    }
    with sync_client(Recorder(409, body)) as client, pytest.raises(LokiApiError) as info:
        client.start_session()
    err = info.value
    assert (err.status, err.code, err.message) == (409, "SESSION_ALREADY_RUNNING", body["error"])
    assert err.details == {"sessionId": "s9"}
    assert "SESSION_ALREADY_RUNNING" in str(err)


def test_not_found_async() -> None:
    body = {"error": "Session not found: nope", "code": "SESSION_NOT_FOUND", "details": {}}

    async def run() -> None:
        async with async_client(Recorder(404, body)) as client:
            await client.get_session("nope")

    with pytest.raises(LokiApiError) as info:
        asyncio.run(run())
    assert (info.value.status, info.value.code) == (404, "SESSION_NOT_FOUND")


def test_non_json_error_body() -> None:
    bad_gateway = Recorder(502, content=b"<html>Bad Gateway</html>")
    with sync_client(bad_gateway) as client, pytest.raises(LokiApiError) as info:
        client.list_sessions()
    assert (info.value.status, info.value.code) == (502, "HTTP_502")
    assert "Bad Gateway" in info.value.message


def test_unexpected_success_body() -> None:
    with (
        sync_client(Recorder(200, {"sessions": "nope"})) as client,
        pytest.raises(LokiApiError) as info,
    ):
        client.list_sessions()
    assert info.value.code == "INVALID_RESPONSE"


def test_transport_error_becomes_connection_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with sync_client(refuse) as client, pytest.raises(LokiConnectionError) as info:
        client.health()
    assert info.value.url == "http://loki.test"
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_nothing_listening_sync_and_async() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with LokiClient(base_url=url, use_env=False) as client, pytest.raises(LokiConnectionError):
        client.list_sessions()

    async def run() -> None:
        async with AsyncLokiClient(base_url=url, use_env=False) as client:
            await client.health()

    with pytest.raises(LokiConnectionError, match="cannot reach the Loki server"):
        asyncio.run(run())


# --- the SSE parser -------------------------------------------------------------

STREAM = (
    b"\xef\xbb\xbf: keep-alive\n"
    b"retry: 1500\n"
    b'id: 1\nevent: log:info\ndata: {"a":1}\n\n'
    b"event: heartbeat\r\ndata: {}\r\n\r\n"
    b"id: 2\revent: multi\rdata: line one\rdata:line two\rdata\r\r"
    b"id: 3\nevent: caf\xc3\xa9\ndata: \xe2\x82\xac\n\n"
    b"id: bad\x00id\nevent: nul\ndata: x\n\n"
    b"retry: soon\nunknown: field\nevent: no-data\n\n"
    b"data: unterminated"
)
EXPECTED = [
    SSEMessage(event="log:info", data='{"a":1}', id="1", retry=1500),
    SSEMessage(event="heartbeat", data="{}"),
    SSEMessage(event="multi", data="line one\nline two\n", id="2"),
    SSEMessage(event="café", data="€", id="3"),
    SSEMessage(event="nul", data="x"),
]


def parse(chunks: list[bytes]) -> list[SSEMessage]:
    parser = SSEParser()
    out: list[SSEMessage] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    parser.close()
    return out


def test_sse_parser_whole_stream() -> None:
    parser = SSEParser()
    assert parser.feed(STREAM) == EXPECTED
    assert parser.last_event_id == "3"
    assert parser.retry == 1500


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_sse_parser_any_chunking(size: int) -> None:
    chunks = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert parse(chunks) == EXPECTED


def test_sse_parser_every_split_point() -> None:
    for cut in range(len(STREAM) + 1):
        assert parse([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_sse_parser_crlf_split_between_chunks_is_one_line_end() -> None:
    assert parse([b"data: a\r", b"\n\r", b"\n"]) == [SSEMessage(event="message", data="a")]
    assert parse([b"data: a\r", b"\r"]) == [SSEMessage(event="message", data="a")]


def test_sse_parser_lines_and_fields() -> None:
    parser = SSEParser()
    for line in ["data", "data:  two spaces", "event:x", "id"]:
        assert parser.feed_line(line) is None
    assert parser.feed_line("") == SSEMessage(event="x", data="\n two spaces", id="")
    assert parser.feed_line("") is None  # nothing buffered: no event


# --- the event follower -----------------------------------------------------------


class Script:
    """Serve /api/events from a list of connections: frames, then a drop or an end."""

    def __init__(self, connections: list[tuple[int, list[bytes], str]]) -> None:
        self.connections = list(connections)
        self.requests: list[httpx.Request] = []
        self.newest: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/events/history":
            return httpx.Response(200, json={"events": self.newest, "count": len(self.newest)})
        self.requests.append(request)
        if not self.connections:
            raise httpx.ConnectError("gone", request=request)
        status, frames, ending = self.connections.pop(0)
        if status != 200:
            return httpx.Response(status, json={"error": "nope", "code": "FORBIDDEN"})
        return httpx.Response(200, stream=Frames(frames, ending, request))


class Frames(httpx.SyncByteStream, httpx.AsyncByteStream):
    def __init__(self, frames: list[bytes], ending: str, request: httpx.Request) -> None:
        self.frames = frames
        self.ending = ending
        self.request = request

    def __iter__(self) -> Iterator[bytes]:
        yield from self.frames
        if self.ending == "drop":
            raise httpx.ReadError("connection reset", request=self.request)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self.frames:
            yield frame
        if self.ending == "drop":
            raise httpx.ReadError("connection reset", request=self.request)


def frame(seq: int, type_: str = "log:info") -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (
        seq,
        type_.encode(),
        json.dumps(event(seq, type_)).encode(),
    )


HEARTBEAT = b'event: heartbeat\ndata: {"timestamp":"' + NOW.encode() + b'"}\n\n'


def resume_script() -> Script:
    return Script(
        [
            (200, [b": hello\n\n", frame(1), HEARTBEAT, frame(2)[:10]], "drop"),
            (503, [], ""),
            (200, [frame(1), frame(2), frame(3)], "end"),  # replays 1 and 2
            (200, [HEARTBEAT, frame(4, "session:completed")], "end"),
        ]
    )


def test_events_resume_without_gap_or_duplicate() -> None:
    script = resume_script()
    with sync_client(script) as client:
        events = client.events("s1", types=["log:*", "session:*"], history=10)
        got = [next(events) for _ in range(4)]
        events.close()
    assert [e.id for e in got] == ["1", "2", "3", "4"]
    assert all(isinstance(e, Event) for e in got)
    first, *rest = script.requests
    assert dict(first.url.params) == {
        "sessionId": "s1",
        "types": "log:*,session:*",
        "history": "10",
    }
    assert "last-event-id" not in first.headers
    assert [r.headers["last-event-id"] for r in rest] == ["1", "1", "3"]
    assert all("history" not in r.url.params for r in rest)


def test_events_async_twin_resumes_the_same_way() -> None:
    script = resume_script()

    async def run() -> list[Event]:
        got: list[Event] = []
        async with async_client(script) as client:
            async for item in client.events("s1", history=10):
                got.append(item)
                if len(got) == 4:
                    break
        return got

    assert [e.id for e in asyncio.run(run())] == ["1", "2", "3", "4"]


def test_events_heartbeats_only_when_asked() -> None:
    script = Script([(200, [HEARTBEAT, frame(7)], "end")])
    with sync_client(script) as client:
        events = client.events(last_event_id="6", include_heartbeats=True)
        beat, seventh = next(events), next(events)
        events.close()
    assert (beat.type, beat.timestamp, seventh.id) == ("heartbeat", NOW, "7")
    assert script.requests[0].headers["last-event-id"] == "6"


def test_live_follow_starts_at_the_end_of_the_log() -> None:
    script = Script([(200, [frame(5)], "drop"), (200, [frame(5), frame(6)], "end")])
    script.newest = [event(4)]
    with sync_client(script) as client:
        events = client.events()
        got = [next(events).id, next(events).id]
        events.close()
    assert got == ["5", "6"]
    assert [r.headers["last-event-id"] for r in script.requests] == ["4", "5"]

    empty = Script([(200, [frame(1)], "end")])
    with sync_client(empty) as client:
        assert next(client.events(min_level="warn")).id == "1"
    assert empty.requests[0].headers["last-event-id"] == "0"
    assert empty.requests[0].url.params["minLevel"] == "warn"


def test_events_first_connection_failure_is_raised_at_once() -> None:
    with sync_client(Script([])) as client, pytest.raises(LokiConnectionError):
        next(client.events(history=1))
    with sync_client(Script([(403, [], "")])) as client, pytest.raises(LokiApiError) as info:
        next(client.events(history=1))
    assert info.value.code == "FORBIDDEN"


def test_events_client_error_after_reconnect_is_final() -> None:
    script = Script([(200, [frame(1)], "drop"), (403, [], "")])
    with sync_client(script) as client:
        events = client.events(history=1)
        assert next(events).id == "1"
        with pytest.raises(LokiApiError):
            next(events)


def test_events_give_up_after_reconnect_timeout() -> None:
    script = Script([(200, [frame(1)], "drop")])
    settings = ClientSettings(base_url="http://x", reconnect_delay=0, reconnect_timeout=0)
    with LokiClient(settings=settings, transport=httpx.MockTransport(script)) as client:
        events = client.events(history=1)
        assert next(events).id == "1"
        with pytest.raises(LokiConnectionError):
            next(events)


def test_events_without_reconnect_end_with_the_stream() -> None:
    script = Script([(200, [frame(1)], "end")])
    with sync_client(script) as client:
        assert [e.id for e in client.events(history=1, reconnect=False)] == ["1"]
