"""Event records and filters shared by the store, the bus and the SSE writer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from loki_mode.errors import ValidationProblem
from loki_mode.types import EVENT_TYPES, LOG_LEVELS

LEVELS = {name: i for i, name in enumerate(LOG_LEVELS)}


class NewEvent(NamedTuple):
    """An event to append; the store gives it its sequence number and timestamp.

    A tuple, not a dataclass: thousands are made per second while a provider streams.
    """

    type: str
    session_id: str | None
    data: dict[str, Any] = {}

    @property
    def level(self) -> int | None:
        if self.type.startswith("log:"):
            return LEVELS.get(self.type[4:])
        return None


class StoredEvent(NamedTuple):
    """An appended event: `payload` is the whole event as JSON, encoded once.

    A tuple in the events table's column order, so a batch inserts as it is.
    """

    seq: int
    type: str
    session_id: str | None
    level: int | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class EventFilter:
    session_id: str | None = None
    types: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    min_level: int | None = None

    @property
    def key(self) -> tuple[object, ...]:
        return (self.session_id, self.types, self.prefixes, self.min_level)

    @property
    def any_type(self) -> bool:
        return not self.types and not self.prefixes

    def matches(self, type_: str, session_id: str | None, level: int | None) -> bool:
        if self.session_id is not None and session_id != self.session_id:
            return False
        if not self.any_type and type_ not in self.types and not type_.startswith(self.prefixes):
            return False
        return self.min_level is None or level is None or level >= self.min_level

    @classmethod
    def parse(cls, session_id: str | None, types: str | None, min_level: str | None) -> EventFilter:
        """Build a filter from the query parameters, rejecting what no event could match."""
        names: set[str] = set()
        prefixes: list[str] = []
        everything = False
        for raw in (types or "").split(","):
            name = raw.strip()
            if not name:
                continue
            if name == "*":
                everything = True  # still check the other entries: `*,bogus` is as wrong as `bogus`
            elif name.endswith(":*"):
                prefix = name[:-1]
                if not any(t.startswith(prefix) for t in EVENT_TYPES):
                    raise ValidationProblem(f"Unknown event type prefix: {name}", parameter="types")
                prefixes.append(prefix)
            elif name in EVENT_TYPES:
                names.add(name)
            else:
                raise ValidationProblem(
                    f"Unknown event type: {name}", parameter="types", allowed=list(EVENT_TYPES)
                )
        if everything:
            return cls._with(session_id, set(), [], min_level)
        return cls._with(session_id, names, prefixes, min_level)

    @classmethod
    def _with(
        cls,
        session_id: str | None,
        names: Iterable[str],
        prefixes: list[str],
        min_level: str | None,
    ) -> EventFilter:
        if min_level is not None and min_level not in LEVELS:
            raise ValidationProblem(
                f"minLevel must be one of {', '.join(LOG_LEVELS)}", parameter="minLevel"
            )
        return cls(
            session_id=session_id or None,
            types=frozenset(names),
            prefixes=tuple(sorted(prefixes)),
            min_level=LEVELS[min_level] if min_level is not None else None,
        )
