"""A first plan from the PRD, for dry runs: its checklist items, else its section headings."""

from __future__ import annotations

import re
from pathlib import Path

_CHECK = re.compile(r"^\s*[-*]\s+\[( |x|X)\]\s+(.+?)\s*$")
_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")
MAX_ITEMS = 50


def from_prd(prd: Path | None) -> list[tuple[str, bool]]:
    """(title, done) pairs in document order."""
    if prd is None or prd.suffix.lower() not in (".md", ".markdown", ".txt"):
        return []
    try:
        text = prd.read_text(errors="replace")
    except OSError:
        return []
    checks = [(m.group(2), m.group(1) != " ") for m in map(_CHECK.match, text.splitlines()) if m]
    if checks:
        return checks[:MAX_ITEMS]
    heads = [(m.group(1), False) for m in map(_HEADING.match, text.splitlines()) if m]
    return heads[:MAX_ITEMS]
