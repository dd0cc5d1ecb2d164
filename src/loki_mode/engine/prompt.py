"""The prompt of one iteration: what the original runner told the agent, and more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from loki_mode.engine.markers import INPUT_MARKER, PHASE_MARKER

PHASES = {
    "simple": ("implement", "test", "deploy"),
    "standard": ("research", "design", "implement", "review", "test", "deploy"),
    "complex": (
        "research",
        "architecture",
        "design",
        "security",
        "implement",
        "review",
        "test",
        "deploy",
    ),
}


@dataclass(frozen=True, slots=True)
class PromptInput:
    iteration: int
    max_iterations: int
    prd_path: Path | None
    completion_promise: str | None
    directives: Sequence[str] = ()
    complexity: str = "standard"


def complexity_of(prd_path: Path | None) -> str:
    """A rough size class from the PRD's length, for choosing the SDLC phases."""
    if prd_path is None:
        return "standard"
    try:
        size = prd_path.stat().st_size
    except OSError:
        return "standard"
    return "simple" if size < 2_000 else "complex" if size > 20_000 else "standard"


def build(p: PromptInput) -> str:
    lines: list[str] = []
    if p.directives:
        lines.append("HUMAN DIRECTIVES (highest priority; address these first):")
        lines.extend(f"- {d}" for d in p.directives)
        lines.append("")
    lines.append(f"Loki Mode autonomous iteration {p.iteration} of {p.max_iterations}.")
    if p.prd_path is not None:
        lines.append(f"Work from the product requirements document at: {p.prd_path}")
    else:
        lines.append(
            "No PRD was found. Analyse the codebase, write a PRD to PRD.md describing what it "
            "should become, then work from it."
        )
    lines += [
        "",
        "Follow the Reason-Act-Reflect-Verify cycle:",
        "1. REASON: read your notes in .loki/CONTINUITY.md and the current task state; pick the "
        "next most valuable task.",
        "2. ACT: do that task completely and commit your work.",
        "3. REFLECT: update .loki/CONTINUITY.md with progress, decisions and mistakes to avoid.",
        "4. VERIFY: run the tests; if they fail, fix or roll back before moving on.",
        "",
        f"SDLC phases for this project: {', '.join(PHASES[p.complexity])}.",
        f"When you enter a phase, print a line of its own: {PHASE_MARKER} <phase name>",
        f"If you cannot continue without a human decision, print: {INPUT_MARKER} <your question>",
        "Keep a plan with your todo tool and keep its statuses current.",
    ]
    if p.completion_promise:
        lines += [
            "",
            "When, and only when, the whole PRD is done and verified, print exactly this line:",
            f"COMPLETION PROMISE: {p.completion_promise}",
        ]
    return "\n".join(lines) + "\n"
