"""Timestamps as the API shows them: ISO 8601, UTC, millisecond precision."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_iso() -> str:
    return iso(time.time())


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
