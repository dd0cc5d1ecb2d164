"""How the CLI shows things: Rich tables and colors, and JSON for `--json`. No I/O but printing."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import Any

import msgspec
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from loki_mode.client import (
    Agent,
    Event,
    HealthResponse,
    ServerStatus,
    Session,
    SessionList,
    SessionStatusResponse,
    Task,
    TaskList,
    TaskPage,
)

STATUS_STYLES = {
    "starting": "cyan",
    "running": "bold green",
    "paused": "yellow",
    "stopping": "magenta",
    "stopped": "yellow",
    "completed": "bold green",
    "failed": "bold red",
    "pending": "dim",
    "queued": "cyan",
    "skipped": "dim",
    "active": "green",
    "healthy": "bold green",
    "degraded": "yellow",
    "unhealthy": "bold red",
}

EVENT_STYLES = {
    "session": "bold blue",
    "phase": "magenta",
    "task": "cyan",
    "agent": "green",
    "metrics": "dim cyan",
    "input": "bold yellow",
    "heartbeat": "dim",
    "log:debug": "dim",
    "log:info": "white",
    "log:warn": "yellow",
    "log:error": "bold red",
}
_FAILED_TYPES = {"session:failed", "phase:failed", "task:failed", "agent:failed"}
_SUMMARY_KEYS = ("message", "text", "title", "phase", "reason", "input", "status", "output")


def print_json(obj: Any) -> None:
    """Machine-readable output: one JSON document (or NDJSON line), camelCase as on the wire."""
    sys.stdout.write(msgspec.json.encode(obj).decode() + "\n")
    sys.stdout.flush()


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def event_style(type_: str) -> str:
    if type_ in _FAILED_TYPES:
        return "bold red"
    return EVENT_STYLES.get(type_) or EVENT_STYLES.get(type_.split(":", 1)[0], "")


def short_time(stamp: str | None) -> str:
    if not stamp:
        return "-"
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).strftime("%H:%M:%S")
    except ValueError:
        return stamp


def summarize(data: dict[str, Any], limit: int = 160) -> str:
    for key in _SUMMARY_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            return text if len(text) <= limit else text[: limit - 1] + "…"
    raw = msgspec.json.encode(data).decode() if data else ""
    return raw if len(raw) <= limit else raw[: limit - 1] + "…"


def event_line(event: Event, *, show_session: bool = True) -> Text:
    line = Text()
    line.append(short_time(event.timestamp), style="dim")
    line.append("  ")
    line.append(f"{event.type:<16}", style=event_style(event.type))
    if show_session and event.session_id:
        line.append(f" {event.session_id}", style="dim")
    summary = summarize(event.data)
    if summary:
        line.append("  " + summary)
    return line


def sessions_table(page: SessionList) -> RenderableType:
    table = Table(title=f"Sessions: {page.total} ({page.running} running)", title_justify="left")
    table.add_column("ID", no_wrap=True, style="bold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Provider")
    table.add_column("Phase")
    table.add_column("Tasks", justify="right")
    table.add_column("Started", no_wrap=True)
    table.add_column("PRD")
    for s in page.sessions:
        table.add_row(
            *plain(
                s.id,
                status_text(s.status),
                s.provider,
                s.current_phase or "-",
                f"{s.completed_tasks}/{s.task_count}",
                short_time(s.started_at),
                s.prd_path or "-",
            )
        )
    return table


def session_view(resp: SessionStatusResponse) -> RenderableType:
    s = resp.session
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    _kv(grid, "Session", s.id)
    _kv(grid, "Status", status_text(s.status) + (f"  ({s.reason})" if s.reason else ""))
    _kv(grid, "Provider", s.provider + ("  (dry run)" if s.dry_run else ""))
    _kv(grid, "PRD", s.prd_path or "- (codebase analysis)")
    if s.project_dir:
        _kv(grid, "Project", s.project_dir)
    _kv(grid, "Phase", s.current_phase or "-")
    _kv(grid, "Iteration", str(s.iteration))
    _kv(grid, "PID", str(s.pid) if s.pid else "-")
    _kv(grid, "Started", s.started_at)
    _kv(grid, "Updated", s.updated_at)
    if s.finished_at:
        _kv(grid, "Finished", s.finished_at)
    t = resp.tasks
    _kv(
        grid,
        "Tasks",
        f"{t.completed}/{t.total} completed, {t.running} running, {t.pending + t.queued} waiting, "
        f"{t.failed} failed",
    )
    a = resp.agents
    _kv(grid, "Agents", f"{a.active} active, {a.completed} completed, {a.failed} failed")
    _kv(grid, "Usage", usage(s))
    parts: list[RenderableType] = [grid]
    if resp.active_agents:
        parts.append(agents_table(resp.active_agents, title="Active agents"))
    return Group(*parts)


def _kv(grid: Table, key: str, value: Text | str) -> None:
    grid.add_row(Text(key, style="bold"), value if isinstance(value, Text) else Text(value))


def usage(s: Session) -> str:
    return f"{s.input_tokens:,} tokens in, {s.output_tokens:,} out, ${s.cost_usd:.4f}"


def agents_table(agents: list[Agent], *, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("Agent", no_wrap=True)
    table.add_column("Type")
    table.add_column("Status")
    table.add_column("Since", no_wrap=True)
    table.add_column("Description")
    for agent in agents:
        table.add_row(
            *plain(
                agent.id,
                agent.type,
                status_text(agent.status),
                short_time(agent.spawned_at),
                agent.description,
            )
        )
    return table


def tasks_table(
    page: TaskPage | TaskList, *, title: str, show_session: bool = True
) -> RenderableType:
    table = Table(title=title, title_justify="left")
    table.add_column("ID", no_wrap=True, style="bold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Title")
    if show_session:
        table.add_column("Session", no_wrap=True)
    table.add_column("Started", no_wrap=True)
    table.add_column("Done", no_wrap=True)
    for task in page.tasks:
        row = task_row(task)
        table.add_row(*plain(*(row if show_session else row[:3] + row[4:])))
    if isinstance(page, TaskList):
        return table
    p = page.pagination
    shown = f"{p.offset + 1}-{p.offset + len(page.tasks)}" if page.tasks else "none"
    more = " (more: use --offset)" if p.has_more else ""
    return Group(table, Text(f"Showing {shown} of {p.total}{more}", style="dim"))


def plain(*cells: Text | str) -> list[Text]:
    """Table cells as Text, so brackets in titles or paths are never read as Rich markup."""
    return [cell if isinstance(cell, Text) else Text(cell) for cell in cells]


def task_row(task: Task) -> tuple[Text | str, ...]:
    return (
        task.id,
        status_text(task.status),
        task.title,
        task.session_id,
        short_time(task.started_at),
        short_time(task.completed_at),
    )


def health_line(health: HealthResponse) -> Text:
    line = Text("Server ")
    line.append(health.status, style=STATUS_STYLES.get(health.status, ""))
    line.append(f"  version {health.version}, up {format_ms(health.uptime)}  providers:")
    for name, ok in msgspec.structs.asdict(health.providers).items():
        line.append(f" {name} ")
        line.append("✓" if ok else "✗", style="green" if ok else "red")
    if health.active_session:
        line.append(f"  active session {health.active_session}")
    return line


def format_ms(ms: int) -> str:
    seconds = ms // 1000
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def server_view(status: ServerStatus) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    _kv(grid, "Version", status.version)
    _kv(grid, "Uptime", status.uptime_formatted or format_ms(status.uptime))
    for title, section in (
        ("Providers", status.providers),
        ("Sessions", status.sessions),
        ("Events", status.events),
        ("System", status.system),
    ):
        if section:
            _kv(grid, title, flatten(section))
    return grid


def flatten(section: dict[str, Any]) -> str:
    parts: list[str] = []
    for key, value in section.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k}={v}" for k, v in value.items())
            parts.append(f"{key}: {inner}")
        else:
            parts.append(f"{key}={value}")
    return "  ".join(parts)


PIPE_WIDTH = 200  # piped output is for reading whole, not folded at the default 80 columns


def stdout_console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=PIPE_WIDTH)
    return console


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)
