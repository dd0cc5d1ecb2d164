"""Driving sessions through the real API in engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import wait_for

FINISHED = ("completed", "failed", "stopped")


def start(client: httpx.Client, **body: Any) -> str:
    response = client.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["sessionId"])


def session(client: httpx.Client, session_id: str) -> dict[str, Any]:
    response = client.get(f"/api/sessions/{session_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_status(
    client: httpx.Client, session_id: str, *statuses: str, timeout: float = 20
) -> dict[str, Any]:
    wanted = statuses or FINISHED

    def check() -> dict[str, Any] | None:
        body = session(client, session_id)
        return body if body["session"]["status"] in wanted else None

    return dict(wait_for(check, timeout=timeout))


def events(client: httpx.Client, session_id: str, types: str | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"sessionId": session_id, "limit": 1000}
    if types:
        params["types"] = types
    response = client.get("/api/events/history", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def tasks(client: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/sessions/{session_id}/tasks", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return list(response.json()["tasks"])


def agents(client: httpx.Client, session_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/sessions/{session_id}/agents")
    assert response.status_code == 200, response.text
    return list(response.json()["agents"])


def prompts(project: Path) -> list[str]:
    folder = project / ".fake-prompts"
    files = sorted(folder.glob("prompt-*.txt"), key=lambda p: int(p.stem.split("-")[1]))
    return [p.read_text() for p in files]


def scenario(project: Path, name: str) -> None:
    (project / ".fake-scenario").write_text(name)


def group_pids(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


class EventCollector:
    """Reads /api/events in a thread until an event of type `until` arrives."""

    def __init__(self, base_url: str, until: str = "session:completed", **params: str) -> None:
        import threading

        self.events: list[dict[str, Any]] = []
        self.until = until
        self.params = params
        self.url = f"{base_url}/api/events"
        self.ready = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "event stream did not open"

    def _run(self) -> None:
        import json

        with httpx.stream("GET", self.url, params=self.params, timeout=30) as response:
            self.ready.set()
            data = None
            for line in response.iter_lines():
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and data is not None:
                    self.events.append(data)
                    if data["type"] in self.until.split(","):
                        self.done.set()
                        return
                    data = None

    def wait(self, timeout: float = 30) -> list[dict[str, Any]]:
        assert self.done.wait(timeout), (
            f"no {self.until} event; got {[e['type'] for e in self.events]}"
        )
        return self.events
