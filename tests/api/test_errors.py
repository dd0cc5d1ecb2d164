"""Every error code, each produced by a real request against a real server.

For every refused request the response is exactly the ApiError envelope and the
store is unchanged: same sessions, same task counts, same event log.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import (
    assert_api_error,
    dry_run,
    finished,
    running,
    scenario,
    settled_snapshot,
    snapshot,
    start,
)
from tests.conftest import LiveServer, fake_env

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024


@dataclass
class World:
    server: LiveServer
    client: httpx.Client
    done: str  # a finished dry run
    task: str  # one of its tasks
    outside: Path  # a folder beside the project


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("errors")
    project, outside = root / "project", root / "outside"
    (project / "docs").mkdir(parents=True)
    outside.mkdir()
    (project / "PRD.md").write_text("# PRD\n")
    (outside / "secret.md").write_text("# not yours\n")
    (project / "escape.md").symlink_to(outside / "secret.md")
    env = fake_env(LOKI_CODEX_CMD=str(root / "missing" / "codex"))
    server = LiveServer(project, env).start()
    client = server.client()
    try:
        done = dry_run(client)["id"]
        task = client.get(f"/api/sessions/{done}/tasks").json()["tasks"][0]["id"]
        yield World(server, client, done, task, outside)
    finally:
        client.close()
        server.stop()


def refused(world: World, method: str, path: str, status: int, code: str, **kwargs: Any) -> dict:
    """Send the request; it is refused with this ApiError and the store does not change."""
    before = snapshot(world.client)
    response = world.client.request(method, path.format(done=world.done), **kwargs)
    body = assert_api_error(response, status, code)
    assert snapshot(world.client) == before
    return body


# --- 422 VALIDATION_ERROR ------------------------------------------------------------

BAD_STARTS = {
    "unknown provider": {"provider": "bogus"},
    "provider not a string": {"provider": 5},
    "missing prd": {"prdPath": "missing.md"},
    "prd outside by ..": {"prdPath": "../outside/secret.md"},
    "prd outside by symlink": {"prdPath": "escape.md"},
    "prd absolute outside": {"prdPath": "/etc/passwd"},
    "prd is a folder": {"prdPath": "docs"},
    "prd empty": {"prdPath": ""},
    "project missing": {"projectDir": "/nonexistent/project"},
    "project is a file": {"projectDir": "PRD.md"},
    "timeout zero": {"options": {"timeout": 0}},
    "timeout fraction": {"options": {"timeout": 1.5}},
    "timeout too long": {"options": {"timeout": 7 * 24 * 3600 + 1}},
    "options null": {"options": None},
    "dryRun not a boolean": {"options": {"dryRun": "yes"}},
    "max iterations zero": {"options": {"maxIterations": 0}},
}


@pytest.mark.parametrize("body", BAD_STARTS.values(), ids=BAD_STARTS.keys())
def test_bad_start_is_a_validation_error(world: World, body: dict[str, Any]) -> None:
    refused(world, "POST", "/api/sessions", 422, "VALIDATION_ERROR", json=body)


def test_prd_path_outside_the_project_by_absolute_path(world: World) -> None:
    body = {"prdPath": str(world.outside / "secret.md")}
    details = refused(world, "POST", "/api/sessions", 422, "VALIDATION_ERROR", json=body)
    assert details["details"]["field"] == "prdPath"


def test_project_dir_outside_the_allowed_roots(world: World) -> None:
    body = {"projectDir": str(world.outside), "options": {"dryRun": True}}
    details = refused(world, "POST", "/api/sessions", 422, "VALIDATION_ERROR", json=body)
    assert details["details"]["field"] == "projectDir"


MALFORMED = {
    "broken JSON": b"{bad",
    "truncated JSON": b'{"provider": "claude"',
    "array": b"[]",
    "null": b"null",
    "string": b'"claude"',
    "not UTF-8": b'{"provider": "\xff"}',  # was a 500
    "whitespace only": b" \n",  # was taken for "no body" and started a session
}


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_body_is_a_validation_error(world: World, content: bytes) -> None:
    headers = {"content-type": "application/json"}
    refused(
        world, "POST", "/api/sessions", 422, "VALIDATION_ERROR", content=content, headers=headers
    )


BAD_INPUTS = {
    "empty": {"input": ""},
    "blank": {"input": "  \n\t"},
    "missing": {},
    "not a string": {"input": 5},
    "context not a string": {"input": "go", "context": 5},
}


@pytest.mark.parametrize("body", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_a_validation_error(world: World, body: dict[str, Any]) -> None:
    refused(world, "POST", "/api/sessions/{done}/input", 422, "VALIDATION_ERROR", json=body)


def test_input_without_a_body_is_a_validation_error(world: World) -> None:
    refused(world, "POST", "/api/sessions/{done}/input", 422, "VALIDATION_ERROR")


BAD_QUERIES = [
    ("/api/tasks", {"limit": "0"}),
    ("/api/tasks", {"limit": "1001"}),
    ("/api/tasks", {"limit": "-1"}),
    ("/api/tasks", {"limit": "abc"}),
    ("/api/tasks", {"limit": "1.5"}),
    ("/api/tasks", {"limit": ""}),
    ("/api/tasks", {"offset": "-1"}),
    ("/api/tasks", {"offset": "abc"}),
    ("/api/tasks", {"status": "bogus"}),
    ("/api/tasks", {"status": "RUNNING"}),
    ("/api/sessions/{done}/tasks", {"limit": "0"}),
    ("/api/sessions/{done}/tasks", {"offset": "-1"}),
    ("/api/sessions/{done}/tasks", {"status": "bogus"}),
    ("/api/events/history", {"types": "bogus"}),
    ("/api/events/history", {"types": "task:*,bogus"}),
    ("/api/events/history", {"types": "*,bogus"}),
    ("/api/events/history", {"types": "heartbeat:*"}),
    ("/api/events/history", {"minLevel": "loud"}),
    ("/api/events/history", {"limit": "0"}),
    ("/api/events/history", {"limit": "1001"}),
    ("/api/events", {"types": "bogus"}),
    ("/api/events", {"minLevel": "trace"}),
    ("/api/events", {"history": "-1"}),
    ("/api/events", {"history": "10001"}),
    ("/api/events", {"lastEventId": "abc"}),
    ("/api/events", {"lastEventId": "-1"}),
]


@pytest.mark.parametrize(("path", "query"), BAD_QUERIES, ids=[f"{p}?{q}" for p, q in BAD_QUERIES])
def test_bad_query_is_a_validation_error(world: World, path: str, query: dict[str, str]) -> None:
    body = refused(world, "GET", path, 422, "VALIDATION_ERROR", params=query, timeout=5)
    if path != "/api/events" or "lastEventId" not in query:
        assert body["details"]["parameter"] == next(iter(query))


def test_bad_last_event_id_header_is_a_validation_error(world: World) -> None:
    headers = {"Last-Event-ID": "seven"}
    refused(world, "GET", "/api/events", 422, "VALIDATION_ERROR", headers=headers, timeout=5)


def test_bad_sign_in_body_is_a_validation_error(world: World) -> None:
    refused(world, "POST", "/api/auth", 422, "VALIDATION_ERROR", json={})
    refused(world, "POST", "/api/auth", 422, "VALIDATION_ERROR", json={"token": 5})


# --- 404 -----------------------------------------------------------------------------

UNKNOWN_SESSION = [
    ("GET", "/api/sessions/nope", {}),
    ("DELETE", "/api/sessions/nope", {}),
    ("POST", "/api/sessions/nope/stop", {}),
    ("POST", "/api/sessions/nope/pause", {}),
    ("POST", "/api/sessions/nope/resume", {}),
    ("POST", "/api/sessions/nope/input", {"json": {"input": "hello"}}),
    ("GET", "/api/sessions/nope/tasks", {}),
    ("GET", "/api/sessions/nope/tasks/task-1", {}),
    ("GET", "/api/sessions/nope/agents", {}),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"), UNKNOWN_SESSION, ids=[f"{m} {p}" for m, p, _ in UNKNOWN_SESSION]
)
def test_unknown_session_is_session_not_found(
    world: World, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    body = refused(world, method, path, 404, "SESSION_NOT_FOUND", **kwargs)
    assert body["details"]["sessionId"] == "nope"


def test_unknown_task_is_task_not_found(world: World) -> None:
    body = refused(world, "GET", "/api/sessions/{done}/tasks/nope", 404, "TASK_NOT_FOUND")
    assert body["details"] == {"sessionId": world.done, "taskId": "nope"}


def test_a_task_is_found_only_under_its_own_session(world: World) -> None:
    other = dry_run(world.client)["id"]
    path = f"/api/sessions/{other}/tasks/{world.task}"
    refused(world, "GET", path, 404, "TASK_NOT_FOUND")


@pytest.mark.parametrize("path", ["/nope", "/api", "/api/nope", "/api/sessions/x/y/z"])
def test_unknown_route_is_not_found_as_an_api_error(world: World, path: str) -> None:
    refused(world, "GET", path, 404, "NOT_FOUND")


# --- 405 -----------------------------------------------------------------------------

WRONG_METHODS = [
    ("PUT", "/api/sessions", {"GET", "HEAD", "POST"}),
    ("PATCH", "/api/sessions/{done}", {"GET", "HEAD", "DELETE"}),
    ("GET", "/api/sessions/{done}/stop", {"POST"}),
    ("DELETE", "/api/sessions/{done}/tasks", {"GET", "HEAD"}),
    ("POST", "/health", {"GET", "HEAD"}),
    ("PUT", "/api/auth", {"POST", "DELETE"}),
]


@pytest.mark.parametrize(
    ("method", "path", "allowed"), WRONG_METHODS, ids=[f"{m} {p}" for m, p, _ in WRONG_METHODS]
)
def test_wrong_method_is_method_not_allowed_with_every_allowed_method(
    world: World, method: str, path: str, allowed: set[str]
) -> None:
    before = snapshot(world.client)
    response = world.client.request(method, path.format(done=world.done))
    assert_api_error(response, 405, "METHOD_NOT_ALLOWED")
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
    assert snapshot(world.client) == before


# --- 413, 415 ------------------------------------------------------------------------


def raw_post(world: World, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    """POST on a raw socket, reading the answer even if the server stops reading the body.

    The server answers 413 as soon as it knows the body is too large; an HTTP client that
    insists on sending the whole body first may only see a broken pipe.
    """
    lines = [f"POST {path} HTTP/1.1", f"Host: {world.server.host}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    raw = b""
    with socket.create_connection((world.server.host, world.server.port), timeout=10) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(head + body)
        with contextlib.suppress(OSError):
            while data := sock.recv(65536):
                raw += data
    status_line, _, rest = raw.partition(b"\r\n")
    header_block, _, content = rest.partition(b"\r\n\r\n")
    fields = dict(line.split(b": ", 1) for line in header_block.split(b"\r\n") if line)
    return httpx.Response(
        int(status_line.split()[1]),
        headers={k.decode(): v.decode() for k, v in fields.items()},
        content=content,
    )


def chunked(body: bytes, size: int = 65536) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


JSON_HEADERS = {"Content-Type": "application/json"}


@pytest.mark.parametrize("path", ["/api/sessions", "/api/sessions/{done}/input"])
def test_body_over_one_mib_is_payload_too_large(world: World, path: str) -> None:
    body = b'{"input": "' + b"x" * MiB + b'"}'
    headers = {**JSON_HEADERS, "Content-Length": str(len(body))}
    before = snapshot(world.client)
    response = raw_post(world, path.format(done=world.done), headers, body)
    assert_api_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert snapshot(world.client) == before


def test_chunked_body_over_one_mib_is_payload_too_large(world: World) -> None:
    """Without a Content-Length, the limit holds while the body is read."""
    body = b'{"prdPath": "' + b"x" * (MiB + 4096) + b'"}'
    headers = {**JSON_HEADERS, "Transfer-Encoding": "chunked"}
    before = snapshot(world.client)
    response = raw_post(world, "/api/sessions", headers, chunked(body))
    assert_api_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert snapshot(world.client) == before


def test_body_of_exactly_one_mib_is_read(world: World) -> None:
    prefix, suffix = b'{"prdPath": "', b'"}'
    body = prefix + b"x" * (MiB - len(prefix) - len(suffix)) + suffix
    assert len(body) == MiB
    headers = {"content-type": "application/json"}
    # Read and judged on its merits: no such PRD.
    refused(world, "POST", "/api/sessions", 422, "VALIDATION_ERROR", content=body, headers=headers)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_body_that_is_not_json_is_unsupported_media_type(
    world: World, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    for path in ("/api/sessions", "/api/sessions/{done}/input", "/api/sessions/{done}/stop"):
        refused(world, "POST", path, 415, "UNSUPPORTED_MEDIA_TYPE", content=b"{}", headers=headers)


def test_json_with_a_charset_is_json(world: World) -> None:
    headers = {"content-type": "application/json; charset=utf-8"}
    content = b'{"prdPath": "missing.md"}'
    refused(
        world, "POST", "/api/sessions", 422, "VALIDATION_ERROR", content=content, headers=headers
    )


# --- 503 PROVIDER_NOT_AVAILABLE ------------------------------------------------------


def test_missing_provider_cli_is_provider_not_available(world: World) -> None:
    body = refused(
        world, "POST", "/api/sessions", 503, "PROVIDER_NOT_AVAILABLE", json={"provider": "codex"}
    )
    assert body["details"] == {"provider": "codex"}


def test_a_dry_run_needs_no_provider_cli(world: World) -> None:
    done = dry_run(world.client, provider="codex")
    assert (done["provider"], done["status"], done["reason"]) == ("codex", "completed", "dry run")


# --- 409 -----------------------------------------------------------------------------


@pytest.fixture
def busy(project: Path) -> Iterator[tuple[LiveServer, httpx.Client, str]]:
    """A server whose project has a session hanging in its provider."""
    (project / "PRD.md").write_text("# PRD\n")
    scenario(project, "hang")
    server = LiveServer(project, fake_env()).start()
    client = server.client()
    try:
        session_id = start(client)
        running(client, session_id)
        yield server, client, session_id
    finally:
        client.close()
        server.stop()


def test_conflicts_follow_the_status_machine(busy: tuple[LiveServer, httpx.Client, str]) -> None:
    _, client, active = busy
    before = settled_snapshot(client)

    def conflict(method: str, path: str, code: str = "CONFLICT", **kwargs: Any) -> dict:
        body = assert_api_error(client.request(method, path, **kwargs), 409, code)
        assert snapshot(client) == before
        return body

    for body in ({}, {"options": {"dryRun": True}}, {"provider": "gemini"}):
        refusal = conflict("POST", "/api/sessions", "SESSION_ALREADY_RUNNING", json=body)
        assert refusal["details"]["sessionId"] == active
    refusal = conflict("DELETE", f"/api/sessions/{active}")
    assert refusal["details"] == {"sessionId": active, "status": "running"}
    conflict("POST", f"/api/sessions/{active}/resume")

    stop = client.post(f"/api/sessions/{active}/stop")
    assert stop.status_code == 200
    assert stop.json()["status"] == "stopping"
    assert finished(client, active)["status"] == "stopped"

    before = settled_snapshot(client)
    for action in ("stop", "pause", "resume"):
        refusal = conflict("POST", f"/api/sessions/{active}/{action}")
        assert refusal["details"] == {"sessionId": active, "status": "stopped"}
    conflict("POST", f"/api/sessions/{active}/input", json={"input": "too late"})
    assert client.delete(f"/api/sessions/{active}").status_code == 200


def test_input_to_a_completed_session_is_a_conflict(world: World) -> None:
    body = refused(
        world, "POST", "/api/sessions/{done}/input", 409, "CONFLICT", json={"input": "hello"}
    )
    assert body["details"] == {"sessionId": world.done, "status": "completed"}
