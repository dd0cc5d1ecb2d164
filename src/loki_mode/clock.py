"""Timestamps as the API shows them: ISO 8601, UTC, millisecond precision."""

from __future__ import annotations

import time
from datetime import UTC, datetime

_last: tuple[int, str] = (-1, "")


def now_iso() -> str:
    # Bursts of events share a millisecond; formatting a datetime costs more than the rest.
    global _last
    ms = int(time.time() * 1000)
    if ms != _last[0]:
        _last = (ms, iso(ms / 1000))
    return _last[1]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
