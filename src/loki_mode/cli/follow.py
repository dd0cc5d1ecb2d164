"""`loki start --follow`: a live view of one session, driven by its event stream.

Events feed the output pane directly; on events that change the session's shape
(session, phase, task, agent, metrics, heartbeat) the view re-reads the session
(`GET /api/sessions/{id}`), which is the truth for status, counts and usage. It
ends when the session does and returns the exit code of its outcome.
"""

from __future__ import annotations

import time
from collections import deque
from contextlib import closing

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from loki_mode.cli import render
from loki_mode.client import Event, LokiClient, SessionStatusResponse
from loki_mode.types import FINISHED_STATUSES

EXIT_CODES = {"completed": 0, "failed": 1, "stopped": 2}
EXIT_OTHER = 1
REPLAY = 200  # recent events replayed on connect: the output pane starts full
OUTPUT_LINES = 12
_REFRESH_PREFIXES = ("session:", "phase:", "task:", "agent:spawned", "agent:completed")
_REFRESH_TYPES = {"agent:failed", "metrics:update", "heartbeat", "input:received"}
_MIN_REFRESH = 0.25  # seconds between two session reads, except on session:* events


def exit_code(status: str) -> int:
    return EXIT_CODES.get(status, EXIT_OTHER)


class FollowView:
    """What the live view shows: the latest session snapshot and the latest output lines."""

    def __init__(self, snapshot: SessionStatusResponse) -> None:
        self.snapshot = snapshot
        self.lines: deque[Text] = deque(maxlen=OUTPUT_LINES)

    @property
    def finished(self) -> bool:
        return self.snapshot.session.status in FINISHED_STATUSES

    def add(self, event: Event) -> None:
        if event.type == "agent:output" or event.type.startswith(("log:", "input:", "phase:")):
            self.lines.append(render.event_line(event, show_session=False))

    def __rich__(self) -> RenderableType:
        s = self.snapshot.session
        counts = self.snapshot.tasks
        head = Text()
        head.append(f"Session {s.id}  ", style="bold")
        head.append_text(render.status_text(s.status))
        head.append(f"  {s.provider}  phase {s.current_phase or '-'}  iteration {s.iteration}")
        if s.reason:
            head.append(f"  ({s.reason})", style="dim")
        total = max(counts.total, s.task_count)
        done = max(counts.completed, s.completed_tasks)
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(total=total or 1, completed=done if total else 0, width=40),
            Text(f"{done}/{total} tasks", style="bold"),
            Text(f"{counts.running} running, {counts.failed} failed", style="dim"),
        )
        parts: list[RenderableType] = [head, bar, Text(render.usage(s), style="dim")]
        active = self.snapshot.active_agents
        if active:
            parts.append(render.agents_table(active, title=f"Active agents ({len(active)})"))
        output = Group(*self.lines) if self.lines else Text("(no output yet)", style="dim")
        parts.append(Panel(output, title="Latest output", title_align="left", expand=False))
        return Group(*parts)


def _wants_refresh(event: Event) -> bool:
    return event.type.startswith(_REFRESH_PREFIXES) or event.type in _REFRESH_TYPES


def follow_session(client: LokiClient, session_id: str, console: Console) -> int:
    """Show the session live until it finishes; return its outcome's exit code."""
    view = FollowView(client.get_session(session_id))
    last_read = time.monotonic()
    with Live(view, console=console, refresh_per_second=8) as live:
        stream = client.events(session_id, history=REPLAY, include_heartbeats=True)
        with closing(stream):
            while not view.finished:
                event = next(stream)
                view.add(event)
                now = time.monotonic()
                if _wants_refresh(event) and (
                    event.type.startswith("session:") or now - last_read >= _MIN_REFRESH
                ):
                    view.snapshot = client.get_session(session_id)
                    last_read = now
                live.refresh()
    if not console.is_terminal:
        console.line()  # the final frame of a piped Live view ends without a newline
    status = view.snapshot.session.status
    line = Text(f"Session {session_id} ")
    line.append_text(render.status_text(status))
    if view.snapshot.session.reason:
        line.append(f": {view.snapshot.session.reason}")
    console.print(line)
    return exit_code(status)


def follow_json(client: LokiClient, session_id: str) -> int:
    """`--follow --json`: the session's events as NDJSON until it finishes, then its final state."""
    snapshot = client.get_session(session_id)
    stream = client.events(session_id, history=REPLAY, include_heartbeats=True)
    with closing(stream):
        while snapshot.session.status not in FINISHED_STATUSES:
            event = next(stream)
            if event.type != "heartbeat":
                render.print_json(event)
            if _wants_refresh(event):
                snapshot = client.get_session(session_id)
    render.print_json(snapshot)
    return exit_code(snapshot.session.status)
