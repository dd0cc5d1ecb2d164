"""Documentation checked against the code: settings, commands and routes all documented."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route

from loki_mode.api.app import create_app
from loki_mode.cli import reference
from loki_mode.settings import from_env

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_cli_reference_is_generated_from_help() -> None:
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert committed == reference.generate(), (
        "docs/cli.md is stale: run `python -m loki_mode.cli.reference > docs/cli.md`"
    )


def test_every_command_is_in_the_readme() -> None:
    missing = [c for c in reference.commands() if f"loki {c}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_environment_variable_is_in_the_readme() -> None:
    source = (ROOT / "src" / "loki_mode" / "settings.py").read_text()
    names = set(re.findall(r'"(LOKI_[A-Z_]+)"', source))
    names |= {
        f"LOKI_{p}_{kind}"
        for p in ("CLAUDE", "CODEX", "GEMINI")
        for kind in ("CMD", "MODEL", "ARGS")
    }
    missing = sorted(n for n in names if f"`{n}`" not in README)
    assert not missing, f"settings missing from README.md: {missing}"


def test_every_route_is_in_the_readme(tmp_path: Path) -> None:
    app = create_app(from_env({}, project_dir=tmp_path))
    documented = {re.sub(r"\{[^}]+\}", "{}", m) for m in re.findall(r"`([A-Z]+ /[^`]*)`", README)}
    missing = []
    for route in app.routes:
        if isinstance(route, Route) and "." not in route.path.rsplit("/", 1)[-1]:
            for method in sorted((route.methods or set()) - {"HEAD"}):
                key = f"{method} {re.sub(r'{[^}]+}', '{}', route.path)}"
                if key not in documented:
                    missing.append(key)
    assert not missing, f"routes missing from README.md: {missing}"
