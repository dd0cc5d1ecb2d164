"""`loki serve`: run the API and dashboard server."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from loki_mode import __version__, server
from loki_mode.errors import ConfigError
from loki_mode.settings import from_env

err = Console(stderr=True)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind [env LOKI_API_HOST; default 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [env LOKI_API_PORT; default 8420]")] = None,
    project_dir: Annotated[
        Path | None,
        typer.Option(
            "--project-dir",
            help="Project folder; the store lives in its .loki/ [env LOKI_PROJECT_DIR; default .]",
        ),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve non-loopback clients without a token (unsafe)")
    ] = False,
    no_cors: Annotated[
        bool, typer.Option("--no-cors", help="Grant CORS to no origin but the server's own")
    ] = False,
    cors_origin: Annotated[
        list[str] | None, typer.Option("--cors-origin", help="An origin granted CORS (repeatable)")
    ] = None,
    generate_token: Annotated[
        bool, typer.Option("--generate-token", help="Print a new secure token and exit")
    ] = False,
) -> None:
    """Serve the Loki Mode API and dashboard."""
    if generate_token:
        typer.echo(secrets.token_urlsafe(32))
        return
    overrides: dict[str, object] = {"host": host, "port": port, "project_dir": project_dir}
    if no_auth:
        overrides["auth"] = False
    if no_cors:
        overrides["cors"] = False
    settings = from_env(None, **overrides)
    if cors_origin:
        settings = settings.with_changes(cors_origins=(*settings.cors_origins, *cors_origin))
    try:
        server.check(settings)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    def banner() -> None:
        access = "token required for remote clients" if settings.token else "loopback clients only"
        if not settings.auth:
            access = "NO AUTHENTICATION (--no-auth)"
        err.print(
            f"[bold green]Loki Mode API[/bold green] v{__version__} on "
            f"[bold]http://{settings.host}:{settings.port}[/bold]\n"
            f"  project  {settings.project_dir}\n  store    {settings.store_path}\n"
            f"  access   {access}\n  docs     http://{settings.host}:{settings.port}/docs",
            highlight=False,
        )

    asyncio.run(server.serve(settings, on_ready=banner))
