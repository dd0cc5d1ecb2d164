"""Typed reads of the JSON lines provider CLIs print, and trimming of the text taken from them.

A CLI's output is never trusted to have the shape it usually has: every accessor
returns an empty value of the asked-for type instead of raising.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

Json = dict[str, Any]
_decode = msgspec.json.Decoder().decode


def decode(line: str) -> Json | None:
    """The JSON object on `line`, or None for plain text, other JSON values and broken JSON."""
    try:
        value = _decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def as_dict(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def as_dicts(value: object) -> list[Json]:
    """The objects of a list, skipping anything else; [] when `value` is no list."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def as_str(value: object) -> str:
    """A string as is, a number as its text (ids are sometimes numbers), else ""."""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def as_int(value: object) -> int:
    """A number (truncated to an int), else 0; booleans are not numbers here."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_line(text: str, limit: int) -> str:
    """The first non-blank-trimmed line of `text`, clipped."""
    stripped = text.strip()
    return clip(stripped.splitlines()[0], limit) if stripped else ""


def one_line(text: str, limit: int) -> str:
    """`text` with every run of whitespace made one space, clipped."""
    return clip(" ".join(text.split()), limit)


def tool_target(args: Json, keys: Sequence[str], limit: int = 120) -> str:
    """What a tool call acts on: the first non-blank argument named in `keys` (a list is
    joined with commas), else the first non-blank string argument; its first line, clipped."""
    named = (args.get(key) for key in keys)
    values = [", ".join(map(str, v)) if isinstance(v, list) else as_str(v) for v in named]
    values += [v for v in args.values() if isinstance(v, str)]
    return first_line(next((v for v in values if v.strip()), ""), limit)
