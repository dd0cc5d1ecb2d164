"""Response shapes the client needs that `loki_mode.models` does not (yet) name.

Kept private here until they move to `loki_mode.models`; the package re-exports
them so user code never imports this module.
"""

from __future__ import annotations

from typing import Any

from msgspec import field

from loki_mode.models import Agent, Base

__all__ = ["AgentList", "DeleteResponse", "EventStats", "ServerStatus"]


class AgentList(Base, kw_only=True):
    """`GET /api/sessions/{id}/agents`."""

    agents: list[Agent]
    count: int


class DeleteResponse(Base, kw_only=True):
    """`DELETE /api/sessions/{id}`."""

    session_id: str
    deleted: bool


class ServerStatus(Base, kw_only=True):
    """`GET /api/status` (the spec only says "object"; these are the fields the server sends)."""

    version: str
    uptime: int = 0
    uptime_formatted: str = ""
    providers: dict[str, Any] = field(default_factory=dict)
    sessions: dict[str, Any] = field(default_factory=dict)
    events: dict[str, Any] = field(default_factory=dict)
    system: dict[str, Any] = field(default_factory=dict)


class EventStats(Base, kw_only=True):
    """`GET /api/events/stats`."""

    subscribers: int
    history_size: int
    by_type: dict[str, int] = field(default_factory=dict)
