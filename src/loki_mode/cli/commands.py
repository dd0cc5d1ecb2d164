"""The client-side `loki` commands: each maps its options onto one client call and renders it.

Errors are not handled here: `LokiApiError` and `LokiConnectionError` propagate
to `main()`, which prints them once.
"""

from __future__ import annotations

import os
import sys
from contextlib import closing
from typing import Annotated

import typer
from rich.text import Text

from loki_mode.cli import render
from loki_mode.cli.follow import follow_json, follow_session
from loki_mode.client import ClientSettings, LokiClient

EXIT_INTERRUPTED = 130

SessionId = Annotated[str, typer.Argument(help="Session id.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def client(ctx: typer.Context) -> LokiClient:
    settings = ctx.obj if isinstance(ctx.obj, ClientSettings) else ClientSettings()
    return LokiClient(settings=settings)


def _local_path(path: str | None) -> str | None:
    """Make a path that exists here absolute (the server may run elsewhere; others pass as is)."""
    if path is None or not os.path.exists(path):
        return path
    return os.path.abspath(path)


def start(
    ctx: typer.Context,
    prd: Annotated[
        str | None,
        typer.Argument(help="PRD file (default: the server looks for PRD.md and the like)."),
    ] = None,
    provider: Annotated[
        str | None, typer.Option("--provider", "-p", help="claude, codex or gemini.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and build the first prompt, run no provider.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Also emit log:debug events.")] = False,
    timeout: Annotated[
        int | None,
        typer.Option("--timeout", min=1, help="Fail the session after this many seconds."),
    ] = None,
    project_dir: Annotated[
        str | None, typer.Option("--project-dir", help="Project folder (default: the server's).")
    ] = None,
    max_iterations: Annotated[
        int | None,
        typer.Option(
            "--max-iterations", min=1, help="Complete the session after this many iterations."
        ),
    ] = None,
    promise: Annotated[
        str | None,
        typer.Option(
            "--promise", help="Completion promise: the session completes when the agent prints it."
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-f", help="Watch it live; exit 0 completed, 1 failed, 2 stopped."
        ),
    ] = False,
    json: Json = False,
) -> None:
    """Start a session."""
    with client(ctx) as api:
        started = api.start_session(
            _local_path(prd),
            provider=provider,
            dry_run=dry_run,
            verbose=verbose,
            timeout=timeout,
            project_dir=_local_path(project_dir),
            max_iterations=max_iterations,
            completion_promise=promise,
        )
        if json and not follow:
            render.print_json(started)
            return
        if follow and json:
            raise typer.Exit(follow_json(api, started.session_id))
        out = render.stdout_console()
        line = Text("Started session ")
        line.append(started.session_id, style="bold")
        line.append(f" ({started.status}): {started.message}")
        out.print(line)
        if not follow:
            sid = started.session_id
            hint = f"Watch it with: loki status {sid}  |  loki events --session {sid}"
            out.print(Text(hint, style="dim"))
            return
        try:
            code = follow_session(api, started.session_id, out)
        except KeyboardInterrupt:
            out.print(f"Stopped watching; session {started.session_id} keeps running.")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        raise typer.Exit(code)


def sessions(ctx: typer.Context, json: Json = False) -> None:
    """List sessions."""
    with client(ctx) as api:
        page = api.list_sessions()
    if json:
        render.print_json(page)
    else:
        render.stdout_console().print(render.sessions_table(page))


def status(
    ctx: typer.Context,
    session_id: Annotated[
        str | None, typer.Argument(help="Session id (default: the server's status).")
    ] = None,
    json: Json = False,
) -> None:
    """Show a session's status, or the server's without an id."""
    with client(ctx) as api:
        if session_id:
            session = api.get_session(session_id)
            payload: object = session
            view = render.session_view(session)
        else:
            server = api.status()
            payload = server
            view = render.server_view(server)
    if json:
        render.print_json(payload)
    else:
        render.stdout_console().print(view)


def tasks(
    ctx: typer.Context,
    session_id: Annotated[
        str | None, typer.Argument(help="Session id (default: tasks of all sessions).")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="pending, queued, running, completed, failed or skipped."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many (1-1000).")
    ] = None,
    offset: Annotated[int | None, typer.Option("--offset", help="Skip this many.")] = None,
    json: Json = False,
) -> None:
    """List a session's tasks, or all tasks without an id."""
    with client(ctx) as api:
        if session_id:
            page = api.list_tasks(session_id, status=status, limit=limit, offset=offset)
        else:
            page = api.list_all_tasks(status=status, limit=limit, offset=offset)
    if json:
        render.print_json(page)
        return
    title = f"Tasks of {session_id}" if session_id else "Tasks"
    table = render.tasks_table(page, title=title, show_session=session_id is None)
    render.stdout_console().print(table)


def _control(ctx: typer.Context, session_id: str, action: str, json: bool) -> None:
    with client(ctx) as api:
        result = {
            "stop": api.stop_session,
            "pause": api.pause_session,
            "resume": api.resume_session,
        }[action](session_id)
    if json:
        render.print_json(result)
        return
    line = Text(f"Session {result.session_id}: ")
    line.append_text(render.status_text(result.status))
    line.append(f" - {result.message}")
    render.stdout_console().print(line)


def stop(ctx: typer.Context, session_id: SessionId, json: Json = False) -> None:
    """Stop a session (its provider's whole process group ends)."""
    _control(ctx, session_id, "stop", json)


def pause(ctx: typer.Context, session_id: SessionId, json: Json = False) -> None:
    """Pause a session at its next iteration boundary."""
    _control(ctx, session_id, "pause", json)


def resume(ctx: typer.Context, session_id: SessionId, json: Json = False) -> None:
    """Resume a paused session."""
    _control(ctx, session_id, "resume", json)


def input_(
    ctx: typer.Context,
    session_id: SessionId,
    text: Annotated[str, typer.Argument(help="The directive, or - to read it from stdin.")],
    context: Annotated[str | None, typer.Option("--context", help="Optional context.")] = None,
    json: Json = False,
) -> None:
    """Give a running or paused session a directive for its next iteration."""
    if text == "-":
        text = sys.stdin.read().rstrip("\n")
    with client(ctx) as api:
        result = api.send_input(session_id, text, context)
    if json:
        render.print_json(result)
    else:
        render.stdout_console().print(Text(f"Session {result.session_id}: {result.message}"))


def delete(ctx: typer.Context, session_id: SessionId, json: Json = False) -> None:
    """Delete a finished session with its tasks, agents and events."""
    with client(ctx) as api:
        result = api.delete_session(session_id)
    if json:
        render.print_json(result)
    else:
        render.stdout_console().print(Text(f"Deleted session {result.session_id}."))


def events(
    ctx: typer.Context,
    session: Annotated[str | None, typer.Option("--session", help="Only this session.")] = None,
    types: Annotated[
        str | None, typer.Option("--types", help="Comma list of types; 'task:*' matches a family.")
    ] = None,
    min_level: Annotated[
        str | None, typer.Option("--min-level", help="debug, info, warn or error (log:* only).")
    ] = None,
    history: Annotated[
        int | None, typer.Option("--history", min=0, help="Replay this many recent events first.")
    ] = None,
    heartbeats: Annotated[bool, typer.Option("--heartbeats", help="Show heartbeats too.")] = False,
    json: Annotated[bool, typer.Option("--json", help="One JSON event per line.")] = False,
) -> None:
    """Follow events live (Ctrl-C to end), colored by type."""
    out = render.stdout_console()
    with client(ctx) as api:
        stream = api.events(
            session,
            types=types,
            min_level=min_level,
            history=history,
            include_heartbeats=heartbeats,
        )
        try:
            with closing(stream):
                for event in stream:
                    if json:
                        render.print_json(event)
                    else:
                        out.print(render.event_line(event))
        except KeyboardInterrupt:
            raise typer.Exit(EXIT_INTERRUPTED) from None


def health(ctx: typer.Context, json: Json = False) -> None:
    """Check the server's health (exit 1 when unhealthy)."""
    with client(ctx) as api:
        result = api.health()
    if json:
        render.print_json(result)
    else:
        render.stdout_console().print(render.health_line(result))
    if result.status == "unhealthy":
        raise typer.Exit(1)
