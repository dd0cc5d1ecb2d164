"""Python client for the Loki Mode API: `LokiClient` (blocking) and `AsyncLokiClient` (asyncio).

    from loki_mode.client import LokiClient

    with LokiClient() as client:            # $LOKI_API_URL / $LOKI_API_TOKEN, or arguments
        started = client.start_session("PRD.md", dry_run=True)
        for event in client.events(started.session_id, history=100):
            print(event.type, event.data)

Every method returns the spec's models (msgspec structs, re-exported here) and
raises `LokiApiError` for an error answer or `LokiConnectionError` when the
server cannot be reached; both derive from `LokiError`.
"""

from loki_mode.client._async import AsyncLokiClient
from loki_mode.client._base import DEFAULT_BASE_URL, ClientSettings
from loki_mode.client._errors import LokiApiError, LokiConnectionError, LokiError
from loki_mode.client._sync import LokiClient
from loki_mode.models import (
    Agent,
    AgentCounts,
    AgentList,
    ControlResponse,
    DeleteResponse,
    Event,
    EventHistory,
    EventStats,
    HealthResponse,
    Pagination,
    ProviderAvailability,
    ServerStatus,
    Session,
    SessionList,
    SessionStatusResponse,
    StartSessionResponse,
    Task,
    TaskCounts,
    TaskList,
    TaskPage,
)

__all__ = [
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
]
