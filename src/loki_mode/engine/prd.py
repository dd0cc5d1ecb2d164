"""Finding the PRD a session works from, as the original runner did."""

from __future__ import annotations

from pathlib import Path

_NAMES = ("PRD", "prd", "REQUIREMENTS", "requirements", "SPEC", "spec")
CANDIDATES: tuple[str, ...] = (
    *(f"{n}.md" for n in _NAMES),
    *(f"{n}.json" for n in _NAMES),
    *(f"docs/{n}.md" for n in _NAMES),
    *(f"docs/{n}.json" for n in _NAMES),
    ".github/PRD.md",
    "PROJECT.md",
)


def discover(project: Path) -> Path | None:
    """The first usual PRD file inside `project`, or None (codebase-analysis mode)."""
    root = project.resolve()
    for name in CANDIDATES:
        candidate = project / name
        if candidate.is_file():
            resolved = candidate.resolve()
            if resolved.is_relative_to(root):
                return resolved
    return None


def confine(path: str, project: Path) -> Path | None:
    """`path` (relative to the project, or absolute) if it is a regular file inside it."""
    root = project.resolve()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved
