"""When a rate or usage limit lifts, and which failures are limits or not worth a retry.

Every CLI names its reset in its own words, and the same CLI changes them between
versions, so one reader understands all of them:

- an epoch after a bar or a reset key: `limit reached|1749924000`, `"resetsAt": 1773150000`
  (milliseconds are recognised by their size);
- an ISO time: `resets at 2026-03-02T21:15:00Z`, `"quotaResetTimeStamp": "2026-03-10T13:30:00Z"`
  (a time without an offset is UTC);
- a span: `try again in 2 days 3 hours`, `reset after 8h44m7s`, `retry in 900ms`,
  `"retryDelay": "37s"`, `in less than a minute`;
- a header: `Retry-After: 120`;
- a clock time: `resets 8:30am (America/Los_Angeles)`, `try again at 5:30 PM`,
  `resets Oct 6, 1pm (Europe/Berlin)`, `try again at Dec 29th, 2025 10:15 PM`. Without a
  zone it is the machine's local time, as the CLIs print it; an unknown zone gives no
  time at all. A clock time more than a minute past means tomorrow; a date without a
  year more than half a year past means next year. Hours are decimal ("08", "09").

Structured records (Claude's `rate_limit_info`, an API error body) are read first when
a caller has one. The wording patterns are the part every provider shares; each adapter
adds the phrases only its CLI prints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A rate or usage limit. Not a bare "limit reached": context and turn limits are no reason to wait.
LIMIT_WORDS = (
    r"usage.?limit", r"rate.?limit", r"(?:session|weekly|daily|opus|sonnet|5-hour) limit",
    r"hit your limit", r"too many requests",
)  # fmt: skip
# Failures a retry cannot fix: credentials, the model name, the request or the flags.
FATAL_WORDS = (
    r"not logged in", r"authenticat", r"unauthori[sz]ed",
    r"invalid api key", r"api.?key\W.{0,40}(?:invalid|not valid|expired)",
    r"invalid_request_error", r"bad request",
    r"(?:unknown|invalid|unsupported) model", r"model_not_found",
    r"models?\W.{0,60}(?:not (?:found|supported)|does not exist)",
    r"unknown (?:flag|option|argument)", r"unrecognized (?:option|argument)",
    r"unexpected argument",
)  # fmt: skip


def wording(words: tuple[str, ...], *extra: str) -> re.Pattern[str]:
    """One case-blind pattern matching any of `words` or of a provider's `extra` phrases."""
    return re.compile("|".join((*words, *extra)), re.I)


_EPOCH = re.compile(
    r"(?:\|\s*|\breset(?:s|s?_?at)?\W{1,4}(?:at\s+)?)(\d{10,13}(?:\.\d+)?)(?![\d.])", re.I
)
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?(?![\d:])"
)
_UNIT = r"(ms|milli(?:second)?s?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)(?![a-z])"
_SPAN = re.compile(
    r"(?:\b(?:in|after)\s+|\bretry_?delay\W{0,4})"
    r"((?:\d+(?:\.\d+)?\s*" + _UNIT + r"[\s,]*(?:and\s+)?)+)",
    re.I,
)
_SPAN_PART = re.compile(r"(\d+(?:\.\d+)?)\s*" + _UNIT, re.I)
_UNDER_A_MINUTE = re.compile(r"\b(?:in|after) less than a minute", re.I)
_RETRY_AFTER = re.compile(r"\bretry[-_ ]?after\W{0,3}(\d+(?:\.\d+)?)(?![\d.])", re.I)
_CLOCK = re.compile(
    r"\b(?:try again at|resets?(?:\s+at)?)\s+"
    r"(?:(?P<mon>[a-z]{3})[a-z]*\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+"
    r"(?:(?P<year>\d{4}),?\s+)?(?:at\s+)?)?"
    r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?(?::(?P<s>\d{2}))?(?![\d:])"
    r"\s*(?P<ap>[ap]\.?m\b\.?)?(?:\s*\((?P<tz>[a-z_]+(?:/[a-z0-9_+-]+)*)\))?",
    re.I,
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Fields of a structured record: an absolute reset, and a wait in seconds.
_AT_KEYS = ("resetsAt", "resets_at", "reset_at", "resetAt")
_IN_KEYS = ("resets_in_seconds", "retry_after", "retry_after_seconds", "retryAfter")


def reset_time(text: str, now: float, *records: Mapping[str, object]) -> float | None:
    """Epoch seconds at which the limit `text` (or one of `records`) names lifts, or None."""
    for record in records:
        if (at := _record_reset(record, now)) is not None:
            return at
    if m := _EPOCH.search(text):
        return _epoch(float(m.group(1)))
    if (m := _ISO.search(text)) and (at := _iso_time(m.group(0))) is not None:
        return at
    if _UNDER_A_MINUTE.search(text):
        return now + 60
    if m := _SPAN.search(text):
        return now + sum(float(n) * _unit_seconds(u) for n, u in _SPAN_PART.findall(m.group(1)))
    if m := _RETRY_AFTER.search(text):
        return now + float(m.group(1))
    for m in _CLOCK.finditer(text):
        if m["m"] or m["ap"] or m["tz"]:  # a bare number after "resets" is no clock time
            return _clock_time(m, now)
    return None


def _epoch(stamp: float) -> float:
    """Epoch seconds from seconds or milliseconds."""
    return stamp / 1000 if stamp > 1e12 else float(stamp)


def _iso_time(value: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _record_reset(record: Mapping[str, object], now: float) -> float | None:
    for key in _AT_KEYS:
        if (stamp := _number(record.get(key))) is not None and stamp > 0:
            return _epoch(stamp)
    for key, value in sorted(record.items()):  # e.g. requests_reset / tokens_reset
        at = _iso_time(value) if "reset" in key.lower() and isinstance(value, str) else None
        if at is not None:
            return at
    for key in _IN_KEYS:
        if (seconds := _number(record.get(key))) is not None:
            return now + seconds
    if (millis := _number(record.get("retry_after_ms"))) is not None:
        return now + millis / 1000
    return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _unit_seconds(unit: str) -> float:
    unit = unit.lower()
    if unit.startswith(("ms", "milli")):
        return 0.001
    return {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}[unit[0]]


def _clock_time(m: re.Match[str], now: float) -> float | None:
    zone = _zone(m["tz"]) if m["tz"] else None
    if m["tz"] and zone is None:
        return None  # a zone we cannot place: better no time than a wrong one
    # int(..., 10): "08" and "09" are hours, not octal mistakes.
    hour, minute, second = (int(m[g] or "0", 10) for g in ("h", "m", "s"))
    if m["ap"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m["ap"][0].lower() == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    today = datetime.fromtimestamp(now, zone)  # naive local time when no zone is named
    try:
        at = today.replace(hour=hour, minute=minute, second=second, microsecond=0)
        if m["mon"]:
            month, day = _MONTHS.index(m["mon"].lower()) + 1, int(m["day"], 10)
            at = at.replace(year=int(m["year"] or today.year), month=month, day=day)
            if not m["year"] and at < today - timedelta(days=180):  # "Jan 2" seen in December
                at = at.replace(year=at.year + 1)
            return at.timestamp()
    except ValueError:  # not a month, or no such day
        return None
    if at.timestamp() < now - 60:
        at += timedelta(days=1)
    return at.timestamp()


def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC if name.upper() in ("UTC", "GMT") else None
