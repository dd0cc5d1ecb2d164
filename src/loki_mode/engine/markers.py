"""Marker lines the agent prints to announce a phase or to ask a human something.

The prompt tells the agent to print these on a line of their own; any provider's
assistant text may carry them, so they are read here and not in providers/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PHASE_MARKER = "LOKI_PHASE:"
INPUT_MARKER = "LOKI_INPUT_NEEDED:"
_LINE = re.compile(r"^\s*(LOKI_PHASE|LOKI_INPUT_NEEDED):\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Markers:
    phases: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()


NONE = Markers()


def scan(text: str) -> Markers:
    if "LOKI_" not in text:
        return NONE
    phases: list[str] = []
    questions: list[str] = []
    for kind, value in _LINE.findall(text):
        (phases if kind == "LOKI_PHASE" else questions).append(value)
    return Markers(tuple(p.lower() for p in phases), tuple(questions))
