"""`loki`: the command line. Global options fill the client's settings; errors print once here.

Exit codes: 0 success; 1 an error answer from the server (its message and code
are printed) or a failed session; 2 a stopped session (`start --follow`) or a
usage error; 3 no server reachable; 130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.text import Text

from loki_mode.cli import commands, render
from loki_mode.cli.demo import demo
from loki_mode.cli.serve import serve
from loki_mode.client import ClientSettings, LokiApiError, LokiConnectionError, LokiError

EXIT_API_ERROR = 1
EXIT_UNREACHABLE = 3

app = typer.Typer(
    name="loki",
    help="Loki Mode: run coding agents autonomously against a PRD, and watch and steer them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="LOKI_API_URL",
            help="Server URL (default http://127.0.0.1:8420).",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="LOKI_API_TOKEN", help="API token (Bearer).", show_default=False
        ),
    ] = None,
) -> None:
    """Loki Mode: run coding agents autonomously against a PRD, and watch and steer them."""
    ctx.obj = ClientSettings.resolve(base_url=url, token=token, use_env=False)


app.command("serve")(serve)
app.command("start")(commands.start)
app.command("sessions")(commands.sessions)
app.command("status")(commands.status)
app.command("tasks")(commands.tasks)
app.command("stop")(commands.stop)
app.command("pause")(commands.pause)
app.command("resume")(commands.resume)
app.command("input")(commands.input_)
app.command("delete")(commands.delete)
app.command("events")(commands.events)
app.command("health")(commands.health)
app.command("demo")(demo)


def main() -> None:
    """Console script `loki`: run the app; print a client error once, as one line."""
    err = render.stderr_console()
    try:
        app(prog_name="loki")
    except LokiConnectionError as exc:
        line = Text(f"No Loki server at {exc.url} ({exc.reason}). ", style="bold red")
        line.append("Start one with `loki serve` (or point --url / LOKI_API_URL at yours).")
        err.print(line)
        sys.exit(EXIT_UNREACHABLE)
    except LokiApiError as exc:
        line = Text("Error: ", style="bold red")
        line.append(exc.message)
        line.append(f" [{exc.code}, HTTP {exc.status}]", style="dim")
        if exc.details:
            line.append(" (" + ", ".join(f"{k}={v}" for k, v in exc.details.items()) + ")")
        err.print(line)
        sys.exit(EXIT_API_ERROR)
    except LokiError as exc:
        err.print(Text(f"Error: {exc}", style="bold red"))
        sys.exit(EXIT_API_ERROR)
