"""Type aliases shared by every layer, named once."""

from typing import Literal, get_args

ProviderName = Literal["claude", "codex", "gemini"]
SessionStatus = Literal[
    "starting", "running", "paused", "stopping", "stopped", "failed", "completed"
]
TaskStatus = Literal["pending", "queued", "running", "completed", "failed", "skipped"]
LogLevel = Literal["debug", "info", "warn", "error"]
ControlKind = Literal["stop", "pause", "resume", "input"]
ControlState = Literal["pending", "consumed", "cancelled"]

PROVIDERS: tuple[str, ...] = get_args(ProviderName)
SESSION_STATUSES: tuple[str, ...] = get_args(SessionStatus)
TASK_STATUSES: tuple[str, ...] = get_args(TaskStatus)
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)

ACTIVE_STATUSES = frozenset({"starting", "running", "paused", "stopping"})
FINISHED_STATUSES = frozenset({"stopped", "failed", "completed"})

EVENT_TYPES: tuple[str, ...] = (
    "session:started",
    "session:paused",
    "session:resumed",
    "session:stopped",
    "session:completed",
    "session:failed",
    "phase:started",
    "phase:completed",
    "phase:failed",
    "task:created",
    "task:started",
    "task:progress",
    "task:completed",
    "task:failed",
    "agent:spawned",
    "agent:output",
    "agent:completed",
    "agent:failed",
    "log:debug",
    "log:info",
    "log:warn",
    "log:error",
    "metrics:update",
    "input:requested",
    "input:received",
    "input:consumed",
    "heartbeat",
)
