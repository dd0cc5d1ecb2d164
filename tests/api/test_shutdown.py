"""A signal to `loki serve` ends everything cleanly (issue #2): streams, sessions, provider groups.

SIGINT and SIGTERM must end open SSE streams, end each running session as
`stopped` with a reason the next server still shows, leave no provider process
behind (not even one that ignores SIGTERM, nor its grandchildren), and exit 0
within a few seconds.
"""

from __future__ import annotations

import asyncio
import http.client
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from loki_mode.server import DRAIN_GRACE
from loki_mode.store import SQLiteStore
from tests.api import dry_run, finished, running, scenario, start
from tests.api.test_events import EventReader, last_id, subscribers, wait_subscribers
from tests.conftest import LiveServer, alive, fake_env, wait_for

pytestmark = pytest.mark.e2e

EXIT_WITHIN = 8.0  # seconds: the stop grace here is 1 s, the rest is slack for a loaded machine


@pytest.fixture
def live(project: Path) -> Iterator[LiveServer]:
    env = fake_env(LOKI_SSE_KEEPALIVE="0.2", LOKI_STOP_GRACE="1")
    server = LiveServer(project, env).start()
    try:
        yield server
    finally:
        server.stop()


def signal_and_wait(
    live: LiveServer, sig: signal.Signals, within: float = EXIT_WITHIN
) -> tuple[int, float]:
    """Send `sig` to the server; return its exit code and how long it took to exit."""
    assert live.proc is not None
    began = time.monotonic()
    live.proc.send_signal(sig)
    try:
        code = live.proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        live.kill()
        raise AssertionError(
            f"the server did not exit within {within} s of {sig.name}: {live.log()}"
        ) from None
    took = time.monotonic() - began
    live.proc = None
    return code, took


def processes_in(folder: Path) -> list[psutil.Process]:
    """Live processes whose working directory is `folder` (the providers run there)."""
    found = []
    for proc in psutil.process_iter(["cwd", "status"]):
        try:
            if proc.info["cwd"] == str(folder) and proc.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


@pytest.mark.parametrize(
    ("sig", "fake"),
    [
        (signal.SIGTERM, "hang"),
        (signal.SIGINT, "hang"),
        (signal.SIGTERM, "ignore-term"),  # TERM reaches neither the provider nor its child
    ],
    ids=["SIGTERM-hang", "SIGINT-hang", "SIGTERM-ignore-term"],
)
def test_signal_ends_streams_sessions_and_providers(
    live: LiveServer, sig: signal.Signals, fake: str
) -> None:
    scenario(live.project, fake)
    with live.client() as c:
        sid = start(c)
        pid = int(running(c, sid)["pid"])
        pids = [pid]
        if fake == "ignore-term":  # a provider that ignores TERM, with a grandchild that does too
            pid_file = live.project / ".fake-child-pids"
            wait_for(lambda: pid_file.exists() and pid_file.read_text().strip())
            pids += [int(p) for p in pid_file.read_text().split()]
        assert all(alive(p) for p in pids)
        streams = [EventReader(live), EventReader(live, {"sessionId": sid})]
        try:
            wait_subscribers(c, 2)
            cursor = last_id(c)
            code, took = signal_and_wait(live, sig)
            assert code == 0, live.log()
            for stream in streams:
                assert stream.ended.wait(5), "an event stream outlived the server"
        finally:
            for stream in streams:
                stream.close()
    assert took < EXIT_WITHIN
    # Nothing the provider started survives the server.
    wait_for(lambda: not any(alive(p) for p in pids), timeout=5)
    assert processes_in(live.project) == []
    # The next server shows the session stopped, with the reason.
    live.start()
    with live.client() as c:
        session = finished(c, sid)
        assert session["status"] == "stopped"
        assert session["reason"] == "server shutdown"
        assert session["pid"] is None
        ended = [
            e
            for e in c.get("/api/events/history", params={"sessionId": sid}).json()["events"]
            if e["type"] == "session:stopped"
        ]
        assert len(ended) == 1 and ended[0]["data"]["reason"] == "server shutdown"
        assert subscribers(c) == 0
    # The streams were closed before the sessions were ended: a client that resumes
    # where it was gets the end it missed.
    with EventReader(live, headers={"Last-Event-ID": str(cursor)}) as resumed:
        assert resumed.wait_type("session:stopped", sid)["data"]["reason"] == "server shutdown"


def test_signal_with_only_idle_streams_exits_at_once(live: LiveServer) -> None:
    with live.client() as c:
        dry_run(c)
    with EventReader(live) as stream, live.client() as c:
        wait_subscribers(c, 1)
        code, took = signal_and_wait(live, signal.SIGTERM)
        assert stream.ended.wait(5)
    assert code == 0
    assert took < 3


def test_regression_sigterm_while_a_session_starts_does_not_hang(project: Path) -> None:
    """A write whose waiter was cancelled by shutdown killed the store's writer thread.

    Every later transaction then waited forever, the runner could not record its
    session as stopped, and the server hung until it was killed. The race needs
    the signal to land while the runner's first writes are queued, so it is tried
    a few times.
    """
    scenario(project, "hang")
    live = LiveServer(project, fake_env(LOKI_STOP_GRACE="1"))
    started: list[str] = []
    try:
        for _ in range(3):
            live.start()
            with live.client() as c:
                started.append(start(c))
            code, _ = signal_and_wait(live, signal.SIGTERM)
            assert code == 0
            assert "Traceback" not in live.log()
        live.start()
        with live.client() as c:
            assert [finished(c, sid)["status"] for sid in started] == ["stopped"] * 3
        assert processes_in(project) == []
    finally:
        live.stop()


def test_regression_cancelled_write_does_not_kill_the_store_writer(tmp_path: Path) -> None:
    """The writer set the result of a future its caller had cancelled, and died of it."""

    async def scenario() -> int:
        store = SQLiteStore(tmp_path / "loki.db")
        await store.open()
        try:
            gate = threading.Event()
            busy = store.submit(lambda tx: gate.wait(5))  # holds the writer
            abandoned = asyncio.ensure_future(store.transact(lambda tx: "never awaited"))
            await asyncio.sleep(0.05)
            abandoned.cancel()
            await asyncio.sleep(0)
            gate.set()
            await asyncio.wrap_future(busy)
            return await asyncio.wait_for(store.transact(lambda tx: 42), timeout=5)
        finally:
            await store.close()

    assert asyncio.run(scenario()) == 42


BIG_PRD = "# PRD\n\n" + "".join(f"- [ ] item {i} {'x' * 100_000}\n" for i in range(50))


def test_stalled_event_client_does_not_hold_up_shutdown(live: LiveServer) -> None:
    (live.project / "PRD.md").write_text(BIG_PRD)
    with live.client() as c:
        for _ in range(2):  # ~10 MB of task events: more than the sockets between us buffer
            dry_run(c)
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    try:
        conn.request("GET", "/api/events", headers={"Last-Event-ID": "0"})
        assert conn.getresponse().status == 200  # and then never read
        time.sleep(0.5)
        code, _ = signal_and_wait(live, signal.SIGTERM, within=5 + DRAIN_GRACE)
        assert code == 0
    finally:
        conn.close()  # lets a server that is still draining finish
