"""Pins the client's public surface: adding or removing a name is a deliberate change."""

from __future__ import annotations

import inspect

import loki_mode.client as client
from loki_mode import models

PUBLIC = {
    "DEFAULT_BASE_URL",
    "Agent",
    "AgentCounts",
    "AgentList",
    "AsyncLokiClient",
    "ClientSettings",
    "ControlResponse",
    "DeleteResponse",
    "Event",
    "EventHistory",
    "EventStats",
    "HealthResponse",
    "LokiApiError",
    "LokiClient",
    "LokiConnectionError",
    "LokiError",
    "Pagination",
    "ProviderAvailability",
    "ServerStatus",
    "Session",
    "SessionList",
    "SessionStatusResponse",
    "StartSessionResponse",
    "Task",
    "TaskCounts",
    "TaskList",
    "TaskPage",
}

OPERATIONS = {
    "health",
    "ready",
    "live",
    "status",
    "list_sessions",
    "start_session",
    "get_session",
    "delete_session",
    "stop_session",
    "pause_session",
    "resume_session",
    "send_input",
    "list_tasks",
    "get_task",
    "list_agents",
    "list_all_tasks",
    "active_tasks",
    "queued_tasks",
    "event_history",
    "event_stats",
    "events",
}


def test_all_is_pinned() -> None:
    assert set(client.__all__) == PUBLIC
    assert len(client.__all__) == len(set(client.__all__))
    for name in client.__all__:
        assert getattr(client, name) is not None


def test_models_are_the_shared_ones_not_copies() -> None:
    for name in PUBLIC:
        if hasattr(models, name):
            assert getattr(client, name) is getattr(models, name), name


def test_errors_share_one_base() -> None:
    assert issubclass(client.LokiApiError, client.LokiError)
    assert issubclass(client.LokiConnectionError, client.LokiError)


def test_twins_offer_the_same_operations() -> None:
    for cls in (client.LokiClient, client.AsyncLokiClient):
        public = {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}
        assert public - {"close", "aclose", "settings"} == OPERATIONS, cls
    sync_sig = {n: inspect.signature(getattr(client.LokiClient, n)) for n in OPERATIONS}
    async_sig = {n: inspect.signature(getattr(client.AsyncLokiClient, n)) for n in OPERATIONS}
    for name in OPERATIONS:
        assert list(sync_sig[name].parameters) == list(async_sig[name].parameters), name
        assert inspect.iscoroutinefunction(getattr(client.AsyncLokiClient, name)) or (
            name == "events" and inspect.isasyncgenfunction(getattr(client.AsyncLokiClient, name))
        )
