"""`loki demo`: a whole session with no provider CLI and no credentials.

It serves a fresh demo project whose claude command is the replayer
(`python -m loki_mode.replay`) of a transcript shipped in the package, starts a
session and follows it live; the dashboard shows the same session.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from loki_mode.cli import render
from loki_mode.cli.follow import follow_session
from loki_mode.client import LokiClient, LokiConnectionError
from loki_mode.replay import demo_transcript

DEMO_PROMISE = "DEMO COMPLETE"
DEMO_PRD = """# Todo API

A small REST API for tasks, built by an agent while you watch.

- [ ] Design the task store schema
- [ ] Implement the REST endpoints
- [ ] Write integration tests
- [ ] Document the API in README
"""


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(client: LokiClient, server: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise typer.Exit(server.returncode or 1)
        try:
            if client.ready():
                return
        except LokiConnectionError:
            pass
        time.sleep(0.1)
    raise typer.Exit(1)


def demo(
    port: Annotated[
        int | None, typer.Option(help="Port for the demo server (default 8420 if free).")
    ] = None,
    project_dir: Annotated[
        Path | None,
        typer.Option("--project-dir", help="Demo project folder (default: a new temporary one)."),
    ] = None,
    delay: Annotated[float, typer.Option(min=0, help="Seconds between replayed lines.")] = 0.12,
    exit_when_done: Annotated[
        bool, typer.Option("--exit", help="Stop the server when the session ends.")
    ] = False,
) -> None:
    """Watch a recorded session: tasks, agents, phases and events, no provider needed."""
    console = render.stdout_console()
    project = (project_dir or Path(tempfile.mkdtemp(prefix="loki-demo-"))).resolve()
    project.mkdir(parents=True, exist_ok=True)
    prd = project / "PRD.md"
    if not prd.exists():
        prd.write_text(DEMO_PRD)
    port = port or (8420 if _port_free(8420) else _free_port())
    replay = [
        sys.executable,
        "-m",
        "loki_mode.replay",
        str(demo_transcript()),
        "--delay",
        str(delay),
    ]
    env = {**os.environ, "LOKI_CLAUDE_CMD": shlex.join(replay), "LOKI_PROVIDER": "claude"}
    env.pop("LOKI_API_TOKEN", None)
    cmd = [
        sys.executable,
        "-m",
        "loki_mode",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--project-dir",
        str(project),
    ]
    log = project / ".loki-demo-server.log"
    with log.open("ab") as out:
        server = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        with LokiClient(base_url=url, token=None) as client:
            _wait_ready(client, server)
            started = client.start_session(
                str(prd), provider="claude", max_iterations=3, completion_promise=DEMO_PROMISE
            )
            console.print(f"Demo project  {project}")
            console.print(f"Dashboard     {url}/#/sessions/{started.session_id}\n")
            code = follow_session(client, started.session_id, console)
        if exit_when_done:
            raise typer.Exit(code)
        console.print(f"\nThe dashboard stays up at {url} — press Ctrl-C to stop the demo server.")
        server.wait()
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
