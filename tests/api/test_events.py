"""The event log over SSE against a real `loki serve` (issue #2): filters, replay, resume, fan-out.

Every stream here is read by a real HTTP client on a thread of its own and parsed
with the client library's SSE parser, so what is checked is what an EventSource
would see. The history endpoint is the reference: a stream must show exactly the
matching events of the log, in order, each once.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from loki_mode.api.bus import Bus, Chunk
from loki_mode.client._sse import SSEMessage, SSEParser
from loki_mode.events import EventFilter
from tests.api import assert_api_error, dry_run, finished, running, scenario, start
from tests.conftest import LiveServer, fake_env, wait_for

pytestmark = pytest.mark.e2e

T = TypeVar("T")
KEEPALIVE = "0.2"
PRD = "# PRD\n\n- [ ] build the parser\n- [x] write the spec\n- [ ] ship it\n"


class EventReader:
    """One `/api/events` stream, read on its own thread until closed or ended by the server."""

    def __init__(
        self,
        live: LiveServer,
        params: dict[str, str | int] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = f"{live.url}/api/events"
        self.params = params or {}
        self.headers = headers or {}
        self.messages: list[SSEMessage] = []
        self.raw = bytearray()
        self.status: int | None = None
        self.response_headers: httpx.Headers | None = None
        self.error: BaseException | None = None
        self.ended = threading.Event()  # the stream is over, whoever ended it
        self._closing = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise AssertionError("the event stream did not open")
        if self.error is not None:
            raise AssertionError(f"the event stream failed: {self.error!r}")

    def _run(self) -> None:
        parser = SSEParser()
        try:
            # Each read waits at most 10 s; the servers here send keep-alives every 0.2 s.
            with (
                httpx.Client(timeout=10) as client,
                client.stream("GET", self.url, params=self.params, headers=self.headers) as r,
            ):
                self.status = r.status_code
                self.response_headers = r.headers
                self._ready.set()
                for chunk in r.iter_raw():
                    with self._lock:
                        self.raw += chunk
                        self.messages.extend(parser.feed(chunk))
                    if self._closing.is_set():
                        return
        except Exception as exc:
            self.error = exc
        finally:
            self._ready.set()
            self.ended.set()

    def close(self) -> None:
        self._closing.set()
        self._thread.join(15)
        assert not self._thread.is_alive(), "the reader thread did not stop"

    def __enter__(self) -> EventReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what was read ------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        """The log events read so far (frames with an id), decoded."""
        with self._lock:
            return [json.loads(m.data) for m in self.messages if m.id is not None]

    def ids(self) -> list[int]:
        return [int(e["id"]) for e in self.events()]

    def wait(self, predicate: Callable[[list[dict[str, Any]]], T | None], timeout: float = 20) -> T:
        """Wait until `predicate(events)` is truthy; return it. Fails early if the stream ended."""

        def check() -> T | None:
            value = predicate(self.events())
            if not value and self.ended.is_set():
                raise AssertionError(f"the stream ended first ({self.error!r})")
            return value

        found: T = wait_for(check, timeout=timeout)
        return found

    def wait_count(self, n: int, timeout: float = 20) -> list[dict[str, Any]]:
        return self.wait(lambda events: events if len(events) >= n else None, timeout)

    def wait_type(self, type_: str, session_id: str | None = None) -> dict[str, Any]:
        def found(events: list[dict[str, Any]]) -> dict[str, Any] | None:
            return next(
                (
                    e
                    for e in events
                    if e["type"] == type_ and (session_id is None or e["sessionId"] == session_id)
                ),
                None,
            )

        return self.wait(found)


def history(c: httpx.Client, **params: str | int) -> list[dict[str, Any]]:
    response = c.get("/api/events/history", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["events"])
    return list(body["events"])


def last_id(c: httpx.Client) -> int:
    return int(c.get("/api/events/stats").json()["lastEventId"])


def subscribers(c: httpx.Client) -> int:
    return int(c.get("/api/events/stats").json()["subscribers"])


def ids(events: list[dict[str, Any]]) -> list[int]:
    return [int(e["id"]) for e in events]


def wait_subscribers(c: httpx.Client, n: int) -> None:
    wait_for(lambda: subscribers(c) == n)


SERVER_ENV = {
    "LOKI_SSE_KEEPALIVE": KEEPALIVE,
    "LOKI_HEARTBEAT_INTERVAL": "0.3",
    "LOKI_MAX_ITERATIONS": "2",
}


@contextmanager
def serving(project: Path) -> Iterator[LiveServer]:
    """A server with fast keep-alives and heartbeats; sessions end after two iterations."""
    (project / "PRD.md").write_text(PRD)
    server = LiveServer(project, fake_env(**SERVER_ENV)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the tests that only look at the log after their own cursor."""
    project = tmp_path_factory.mktemp("events") / "project"
    project.mkdir()
    with serving(project) as server:
        yield server


@pytest.fixture
def live(project: Path) -> Iterator[LiveServer]:
    """A server of the test's own (it restarts it)."""
    with serving(project) as server:
        yield server


def subproject(live: LiveServer, name: str, fake: str | None = None) -> str:
    """A project folder inside the server's own, so several sessions can run at once."""
    folder = live.project / name
    folder.mkdir()
    (folder / "PRD.md").write_text(PRD)
    if fake:
        scenario(folder, fake)
    return str(folder)


# --- the stream itself --------------------------------------------------------------------


def test_stream_opens_with_retry_and_sends_keepalive_comments(shared: LiveServer) -> None:
    with EventReader(shared) as reader:
        wait_for(lambda: reader.raw.count(b": keepalive\n\n") >= 3, timeout=10)
        assert reader.status == 200
        assert reader.response_headers is not None
        assert reader.response_headers["content-type"].startswith("text/event-stream")
        assert reader.response_headers["cache-control"] == "no-cache"
        assert bytes(reader.raw).startswith(b"retry: 2000\n\n: connected\n\n")
        assert reader.messages == []  # comments dispatch nothing


def test_bad_stream_parameters_are_422_not_a_stream(shared: LiveServer) -> None:
    cases: list[tuple[dict[str, str], dict[str, str]]] = [
        ({"types": "bogus:event"}, {}),
        ({"types": "nothing:*"}, {}),
        ({"minLevel": "verbose"}, {}),
        ({"history": "-1"}, {}),
        ({"history": "many"}, {}),
        ({}, {"last-event-id": "abc"}),
        ({"lastEventId": "-5"}, {}),
    ]
    with shared.client() as c:
        for params, headers in cases:
            response = c.get("/api/events", params=params, headers=headers)
            assert_api_error(response, 422, "VALIDATION_ERROR")
        assert subscribers(c) == 0


def test_filters_by_session_types_and_prefix(shared: LiveServer) -> None:
    with shared.client() as c:
        hanging = start(c, projectDir=subproject(shared, "a", "hang"))
        running(c, hanging)
        cursor = last_id(c)
        # Every stream starts from the same point of the log, then follows it live.
        specs: dict[str, dict[str, str | int]] = {
            "all": {},
            "session": {"sessionId": hanging},
            "types": {"types": "session:stopped, task:created"},
            "prefix": {"types": "task:*"},
            "mixed": {"types": "agent:*,session:completed", "sessionId": hanging},
            "star": {"types": "*"},
        }
        readers = {k: EventReader(shared, {**p, "lastEventId": cursor}) for k, p in specs.items()}
        try:
            wait_subscribers(c, len(readers))
            planned = dry_run(c, projectDir=subproject(shared, "b"))["id"]
            c.post(f"/api/sessions/{hanging}/stop")
            assert finished(c, hanging)["status"] == "stopped"
            log = [e for e in history(c) if int(e["id"]) > cursor]

            def matching(keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
                return [e for e in log if keep(e)]

            expected = {
                "all": log,
                "star": log,
                "session": matching(lambda e: e["sessionId"] == hanging),
                "types": matching(lambda e: e["type"] in ("session:stopped", "task:created")),
                "prefix": matching(lambda e: e["type"].startswith("task:")),
                "mixed": matching(
                    lambda e: (
                        e["sessionId"] == hanging
                        and (e["type"].startswith("agent:") or e["type"] == "session:completed")
                    )
                ),
            }
            for name, reader in readers.items():
                want = expected[name]
                got = reader.wait_count(len(want))
                assert ids(got) == ids(want), name
                assert got == want, name
            # The filters really selected something on both sides.
            assert {e["sessionId"] for e in log} == {hanging, planned}
            assert {e["type"] for e in expected["types"]} == {"session:stopped", "task:created"}
            assert expected["prefix"] and expected["mixed"]
        finally:
            for reader in readers.values():
                reader.close()


def test_min_level_applies_to_log_events_only(shared: LiveServer) -> None:
    folder = subproject(shared, "levels", "crash,success")
    with shared.client() as c:
        cursor = last_id(c)
        levels = ("debug", "info", "warn", "error")
        readers = {
            lvl: EventReader(shared, {"minLevel": lvl, "lastEventId": cursor}) for lvl in levels
        }
        logs_only = EventReader(
            shared, {"minLevel": "error", "types": "log:*", "lastEventId": cursor}
        )
        try:
            wait_subscribers(c, 5)
            sid = start(c, projectDir=folder, options={"verbose": True})
            assert finished(c, sid)["status"] == "completed"
            log = [e for e in history(c) if int(e["id"]) > cursor]
            kinds = Counter(e["type"] for e in log)
            assert kinds["log:debug"] and kinds["log:info"] and kinds["log:error"]
            for i, lvl in enumerate(levels):
                dropped = {f"log:{name}" for name in levels[:i]}
                want = [e for e in log if e["type"] not in dropped]
                got = readers[lvl].wait_count(len(want))
                assert ids(got) == ids(want), lvl
                assert any(not e["type"].startswith("log:") for e in got)  # others pass
            want = [e for e in log if e["type"] == "log:error"]
            assert ids(logs_only.wait_count(len(want))) == ids(want)
        finally:
            for reader in (*readers.values(), logs_only):
                reader.close()


def test_history_replays_the_most_recent_matches_then_goes_live(shared: LiveServer) -> None:
    with shared.client() as c:
        first = dry_run(c)["id"]
        dry_run(c)
        log = history(c)
        tasks = [e for e in log if e["type"].startswith("task:")]
        with (
            EventReader(shared, {"history": 3}) as recent,
            EventReader(shared, {"history": 4, "types": "task:*"}) as task_recent,
            EventReader(shared, {"history": 2, "sessionId": first}) as of_first,
            EventReader(shared, {"history": 10_000}) as everything,
            EventReader(shared, {"history": 0}) as none,
        ):
            assert recent.wait_count(3) == log[-3:]
            assert task_recent.wait_count(4) == tasks[-4:]
            assert of_first.wait_count(2) == [e for e in log if e["sessionId"] == first][-2:]
            assert everything.wait_count(len(log)) == log
            # Then live, with nothing replayed twice.
            third = dry_run(c)["id"]
            after = [e for e in history(c) if int(e["id"]) > int(log[-1]["id"])]
            assert {e["sessionId"] for e in after} == {third}
            assert recent.wait_count(3 + len(after)) == log[-3:] + after
            assert everything.wait_count(len(log) + len(after)) == log + after
            new_tasks = [e for e in after if e["type"].startswith("task:")]
            assert task_recent.wait_count(4 + len(new_tasks)) == tasks[-4:] + new_tasks
            assert none.wait_count(len(after)) == after
            time.sleep(0.3)  # nothing more arrives: no duplicates at the seam
            assert len(recent.events()) == 3 + len(after)
            assert len(of_first.events()) == 2


def test_history_endpoint_is_oldest_first_limited_and_filtered(shared: LiveServer) -> None:
    with shared.client() as c:
        first = dry_run(c)["id"]
        second = dry_run(c)["id"]
        log = history(c)
        assert ids(log) == list(range(int(log[0]["id"]), int(log[0]["id"]) + len(log)))
        default = c.get("/api/events/history").json()
        assert default["events"] == log[-100:] and default["count"] == min(len(log), 100)
        for limit in (1, 3, len(log) - 1):
            body = c.get("/api/events/history", params={"limit": limit}).json()
            assert body["events"] == log[-limit:]  # the most recent, oldest of them first
            assert body["count"] == limit
        of_second = history(c, sessionId=second)
        assert of_second == [e for e in log if e["sessionId"] == second]
        assert history(c, sessionId=first, types="task:*,session:completed") == [
            e
            for e in log
            if e["sessionId"] == first
            and (e["type"].startswith("task:") or e["type"] == "session:completed")
        ]
        assert (
            history(c, types="session:completed", limit=1)
            == [e for e in log if e["type"] == "session:completed"][-1:]
        )
        assert history(c, sessionId="no-such-session") == []
        for bad in ("0", "1001", "-1", "ten"):
            response = c.get("/api/events/history", params={"limit": bad})
            assert_api_error(response, 422, "VALIDATION_ERROR")
        assert_api_error(
            c.get("/api/events/history", params={"types": "nope"}), 422, "VALIDATION_ERROR"
        )


def test_stats_count_open_streams_and_the_log(shared: LiveServer) -> None:
    with shared.client() as c:
        wait_subscribers(c, 0)
        dry_run(c)
        with EventReader(shared), EventReader(shared, {"types": "task:*"}):
            wait_subscribers(c, 2)
            stats = c.get("/api/events/stats").json()
            log = history(c)
            assert stats["historySize"] == len(log)
            assert stats["byType"] == dict(Counter(e["type"] for e in log))
            assert stats["lastEventId"] == log[-1]["id"]
            with EventReader(shared, {"sessionId": "x"}):
                wait_subscribers(c, 3)
        wait_subscribers(c, 0)  # closed streams are forgotten


def test_heartbeats_have_no_id_and_come_only_while_a_session_is_active(shared: LiveServer) -> None:
    with shared.client() as c, EventReader(shared, {"types": "heartbeat"}) as beats:
        wait_subscribers(c, 1)
        sid = start(c, projectDir=subproject(shared, "beat", "hang"))
        running(c, sid)
        wait_for(lambda: len(beats.messages) >= 2, timeout=10)
        c.post(f"/api/sessions/{sid}/stop")
        finished(c, sid)
        for message in list(beats.messages):
            assert message.event == "heartbeat"
            assert message.id is None  # never moves a client's Last-Event-ID
            beat = json.loads(message.data)
            assert beat["type"] == "heartbeat" and beat["sessionId"] is None
            assert set(beat["data"]) >= {"uptime", "activeSessions", "activeAgents", "queuedTasks"}
        assert beats.events() == []  # no frame with an id
        assert b"id:" not in bytes(beats.raw)
        time.sleep(0.5)
        quiet = len(beats.messages)
        time.sleep(1.0)
        assert len(beats.messages) == quiet  # no session active, no heartbeat


# --- resuming with Last-Event-ID ----------------------------------------------------------------


def read_one_session(live: LiveServer) -> tuple[int, list[dict[str, Any]]]:
    """Follow the stream through one dry run; return the last id read and what was read."""
    with live.client() as c, EventReader(live) as reader:
        wait_subscribers(c, 1)
        sid = dry_run(c)["id"]
        reader.wait_type("session:completed", sid)
        seen = reader.events()
    return int(seen[-1]["id"]), seen


def resume(live: LiveServer, last: int, how: str) -> EventReader:
    if how == "header":
        return EventReader(live, headers={"Last-Event-ID": str(last)})
    return EventReader(live, {"lastEventId": last})


def assert_resumed_exactly(live: LiveServer, reader: EventReader, last: int) -> None:
    """The reader shows every event after `last`, once, in order; then a new session live."""
    with live.client() as c:
        missed = [e for e in history(c) if int(e["id"]) > last]
        assert missed
        assert reader.wait_count(len(missed)) == missed
        sid = dry_run(c)["id"]
        reader.wait_type("session:completed", sid)
        everything = [e for e in history(c) if int(e["id"]) > last]
        assert reader.wait_count(len(everything)) == everything
        assert len(set(reader.ids())) == len(reader.ids())


@pytest.mark.parametrize("how", ["header", "query"])
def test_resume_across_a_restart_gets_exactly_the_missed_events(live: LiveServer, how: str) -> None:
    last, _ = read_one_session(live)
    assert live.stop() == 0
    live.start()
    with live.client() as c:
        assert last_id(c) == last  # nothing lost, nothing invented by the restart
        after_restart = dry_run(c)["id"]
    with resume(live, last, how) as reader:
        assert_resumed_exactly(live, reader, last)
        assert reader.events()[0]["sessionId"] == after_restart
        assert int(reader.events()[0]["id"]) == last + 1


def test_resume_across_a_restart_includes_events_from_before_it(live: LiveServer) -> None:
    last, _ = read_one_session(live)
    with live.client() as c:
        while_away = dry_run(c)["id"]  # appended after the client left, before the restart
    assert live.stop() == 0
    live.start()
    with live.client() as c:
        after_restart = dry_run(c)["id"]
    with resume(live, last, "header") as reader:
        assert_resumed_exactly(live, reader, last)
        sessions = [e["sessionId"] for e in reader.events()]
        assert sessions.index(while_away) < sessions.index(after_restart)


def test_last_event_id_header_wins_over_history(shared: LiveServer) -> None:
    last, _ = read_one_session(shared)
    with shared.client() as c:
        dry_run(c)
    with EventReader(shared, {"history": 1000}, {"Last-Event-ID": str(last)}) as reader:
        assert_resumed_exactly(shared, reader, last)


# --- a slow reader must not hold anyone up ---------------------------------------------------


BUFFER = 5000  # frames queued for one subscriber before it counts as slow
FLOOD = 40_000  # agent lines: ~9 MB of events, more than the socket buffers between us hold


class StalledReader:
    """An SSE client that stops reading its socket once the headers are in, until drained."""

    def __init__(self, live: LiveServer, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
        self.conn.request("GET", "/api/events", headers=headers or {})
        self.response = self.conn.getresponse()
        assert self.response.status == 200

    def drain(self, last: int) -> list[dict[str, Any]]:
        """Read until the server ends the response (or event `last` came after all)."""
        parser = SSEParser()
        events: list[dict[str, Any]] = []
        while chunk := self.response.read1(65536):
            events += [json.loads(m.data) for m in parser.feed(chunk) if m.id is not None]
            if events and int(events[-1]["id"]) >= last:
                break  # never cut off: the assertions say so
        self.conn.close()
        return events


def test_slow_reader_is_cut_off_without_holding_up_a_fast_one(project: Path) -> None:
    scenario(project, "flood")
    env = fake_env(
        LOKI_SSE_KEEPALIVE=KEEPALIVE,
        LOKI_MAX_ITERATIONS="1",
        LOKI_SSE_BUFFER=str(BUFFER),
        FAKE_LINES=str(FLOOD),
    )
    live = LiveServer(project, env).start()
    stalled: StalledReader | None = None
    try:
        with live.client() as c:
            stalled = StalledReader(live)
            with EventReader(live) as fast:
                wait_subscribers(c, 2)
                sid = start(c)
                fast.wait_type("session:completed", sid)
                total = last_id(c)
                assert total > FLOOD
                assert fast.ids() == list(range(1, total + 1))  # every event, in order, once
                assert subscribers(c) == 2  # the slow one is still there, unread
            cut = stalled.drain(total)  # it reads again: what was sent, then the end
            print(f"slow reader got {len(cut)} of {total} events before it was cut off")
            assert cut, "the slow reader got nothing at all"
            assert ids(cut) == list(range(1, len(cut) + 1))
            assert len(cut) < total, "the slow reader was never cut off"
            wait_subscribers(c, 0)
            with EventReader(live, headers={"Last-Event-ID": cut[-1]["id"]}) as again:
                rest = again.wait_count(total - len(cut))
                assert ids(rest) == list(range(len(cut) + 1, total + 1))
    finally:
        if stalled is not None:
            stalled.conn.close()
        live.stop()


def test_one_batch_bigger_than_the_buffer_does_not_cut_off_an_idle_reader() -> None:
    """Regression: the bound counted one committed batch, so a fast reader was cut by a burst."""
    bus = Bus(buffer=10)
    sub = bus.subscribe(EventFilter())
    sub.live = True
    burst = Chunk(1, 50, b"x" * 50, tuple((i, b"x") for i in range(1, 51)))
    sub.push(burst, 50)
    assert not sub.overflowed
    data, cursor = sub.take(0)
    assert cursor == 50 and data == b"x" * 50
    # A reader that has not drained its queue before more arrives is still cut off.
    sub.push(Chunk(51, 55, b"y" * 5, tuple((i, b"y") for i in range(51, 56))), 5)
    sub.push(Chunk(56, 62, b"z" * 7, tuple((i, b"z") for i in range(56, 63))), 7)
    assert sub.overflowed
