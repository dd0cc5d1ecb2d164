"""The spec's schemas as msgspec structs: the one place their shapes are named.

Field names are the spec's (camelCase on the wire); fields beyond the spec are
additions it allows (it never forbids extra properties), documented in the
served `/openapi.yaml`.
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta, Struct, field

from loki_mode.types import ProviderName, SessionStatus, TaskStatus

Timeout = Annotated[
    int, Meta(ge=1, le=7 * 24 * 3600, description="Whole-session timeout in seconds")
]
NonEmpty = Annotated[str, Meta(min_length=1)]


class Base(Struct, rename="camel", omit_defaults=False, forbid_unknown_fields=False):
    pass


class Session(Base, kw_only=True):
    id: str
    prd_path: str | None
    provider: ProviderName
    status: SessionStatus
    started_at: str
    updated_at: str
    pid: int | None = None
    current_phase: str | None = None
    task_count: int = 0
    completed_tasks: int = 0
    # Additions beyond the spec.
    project_dir: str = ""
    iteration: int = 0
    reason: str | None = None
    dry_run: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    finished_at: str | None = None


class Task(Base, kw_only=True):
    id: str
    session_id: str
    title: str
    description: str
    status: TaskStatus
    priority: int
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None
    agent: str | None = None
    output: str | None = None
    error: str | None = None


class Agent(Base, kw_only=True):
    id: str
    session_id: str
    type: str
    description: str
    status: str  # active | completed | failed
    spawned_at: str
    finished_at: str | None = None
    parent: str | None = None
    iteration: int = 0


class StartOptions(Base, kw_only=True):
    dry_run: bool = False
    verbose: bool = False
    # JSON has one number type: 150.0 is the integer 150 to JSON Schema and to JavaScript,
    # so whole floats are accepted (and made ints in __post_init__) where ints are asked.
    timeout: Timeout | Annotated[float, Meta(ge=1, le=7 * 24 * 3600)] | None = None
    # Additions beyond the spec: per-session overrides of the server's loop settings.
    max_iterations: (
        Annotated[int, Meta(ge=1, le=100_000)] | Annotated[float, Meta(ge=1, le=100_000)] | None
    ) = None
    completion_promise: Annotated[str, Meta(min_length=1, max_length=1000)] | None = None

    def __post_init__(self) -> None:
        for name, wire in (("timeout", "timeout"), ("max_iterations", "maxIterations")):
            value = getattr(self, name)
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(f"options.{wire} must be a whole number")
                setattr(self, name, int(value))


class StartSessionRequest(Base, kw_only=True):
    prd_path: NonEmpty | None = None
    provider: ProviderName | None = None  # the server's default (LOKI_PROVIDER, else claude)
    options: StartOptions = field(default_factory=StartOptions)
    project_dir: NonEmpty | None = None


class StartSessionResponse(Base, kw_only=True):
    session_id: str
    status: str
    message: str


class TaskCounts(Base, kw_only=True):
    total: int = 0
    pending: int = 0
    queued: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0


class AgentCounts(Base, kw_only=True):
    active: int = 0
    spawned: int = 0
    completed: int = 0
    failed: int = 0


class SessionStatusResponse(Base, kw_only=True):
    session: Session
    tasks: TaskCounts
    agents: AgentCounts
    active_agents: list[Agent] = field(default_factory=list)


class SessionList(Base, kw_only=True):
    sessions: list[Session]
    total: int
    running: int


class InputRequest(Base, kw_only=True):
    input: Annotated[str, Meta(min_length=1)]
    context: str | None = None


class Pagination(Base, kw_only=True):
    total: int
    limit: int
    offset: int
    has_more: bool


class TaskPage(Base, kw_only=True):
    tasks: list[Task]
    pagination: Pagination
    summary: TaskCounts


class TaskList(Base, kw_only=True):
    tasks: list[Task]
    count: int


class ProviderAvailability(Base, kw_only=True):
    claude: bool
    codex: bool
    gemini: bool


class HealthResponse(Base, kw_only=True):
    status: str  # healthy | degraded | unhealthy
    version: str
    uptime: int
    providers: ProviderAvailability
    active_session: str | None = None


class Event(Base, kw_only=True):
    id: str
    type: str
    timestamp: str
    session_id: str | None
    data: dict[str, Any]


class EventHistory(Base, kw_only=True):
    events: list[Event]
    count: int


class ControlResponse(Base, kw_only=True):
    session_id: str
    status: str
    message: str
    control_id: str | None = None


class ApiError(Base, kw_only=True):
    error: str
    code: str
    details: dict[str, Any] = field(default_factory=dict)


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
    last_event_id: str = "0"
    published: int = 0
