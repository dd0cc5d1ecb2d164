"""The read cache answers repeated reads without recomputing, and never serves stale data."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import LiveServer, wait_for

pytestmark = pytest.mark.e2e


def _cache(client: httpx.Client) -> tuple[int, int]:
    stats = client.get("/api/status").json()["readCache"]
    return stats["hits"], stats["misses"]


def test_reads_are_cached_until_the_store_commits(server: LiveServer) -> None:
    with server.client() as client:
        hits, misses = _cache(client)
        first = client.get("/api/sessions")
        again = client.get("/api/sessions")
        assert first.json() == again.json() == {"sessions": [], "total": 0, "running": 0}
        assert _cache(client) == (hits + 1, misses + 1)

        started = client.post("/api/sessions", json={"options": {"dryRun": True}})
        sid = started.json()["sessionId"]

        def finished() -> dict[str, object] | None:
            body = client.get("/api/sessions").json()
            done = body["total"] == 1 and body["sessions"][0]["status"] == "completed"
            return body if done else None

        assert wait_for(finished)["sessions"][0]["id"] == sid  # type: ignore[index]
        assert client.get(f"/api/sessions/{sid}/tasks").json()["pagination"]["total"] == 1


def test_errors_are_not_cached(server: LiveServer) -> None:
    with server.client() as client:
        hits, _ = _cache(client)
        for _ in range(3):
            assert client.get("/api/sessions/nope").status_code == 404
        assert _cache(client)[0] == hits
