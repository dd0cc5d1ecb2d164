"""The CLI reference (docs/cli.md), generated from `--help` so it can never drift.

`python -m loki_mode.cli.reference > docs/cli.md` rewrites it; a test fails when
the committed file differs from what the code says.
"""

from __future__ import annotations

import os

from typer.testing import CliRunner

from loki_mode.cli.main import app

WIDTH = 100


def commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def _help(*args: str) -> str:
    runner = CliRunner()
    env = {"COLUMNS": str(WIDTH), "NO_COLOR": "1", "TERM": "dumb"}
    result = runner.invoke(app, [*args, "--help"], env=env, terminal_width=WIDTH, prog_name="loki")
    lines = [line.rstrip() for line in result.output.splitlines()]
    return "\n".join(lines).strip() + "\n"


def generate() -> str:
    parts = [
        "# `loki` command reference\n",
        "Generated from `--help` by `python -m loki_mode.cli.reference > docs/cli.md`.\n",
        "```text\n" + _help() + "```\n",
    ]
    for name in commands():
        parts.append(f"## `loki {name}`\n\n```text\n{_help(name)}```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    os.environ.setdefault("COLUMNS", str(WIDTH))
    print(generate(), end="")
