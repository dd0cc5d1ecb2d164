"""The shared reader of limit resets and of limit / fatal wording, and that every adapter uses it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from loki_mode.providers._limits import FATAL_WORDS, LIMIT_WORDS, reset_time, wording
from loki_mode.providers.base import Fact, LineParser, Outcome, RateLimited
from loki_mode.providers.claude import ClaudeLineParser
from loki_mode.providers.codex import CodexParser
from loki_mode.providers.gemini import GeminiParser

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# Moved here from test_gemini.py, unchanged.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "You've hit your limit · resets 8:30am (America/Los_Angeles)",
            "2026-03-10T15:30:00+00:00",
        ),
        ("limit · resets 09am (America/Los_Angeles)", "2026-03-10T16:00:00+00:00"),
        ("limit · resets 08:05 (Europe/Paris)", "2026-03-11T07:05:00+00:00"),  # 08:05 passed today
        ("limit · resets 11pm (UTC)", "2026-03-10T23:00:00+00:00"),
        ("Please try again in 1h 2m 3s.", NOW + 3723),
        ("try again in 5 minutes", NOW + 300),
        ("Please retry in 900ms", NOW + 0.9),
        ("Retry-After: 120", NOW + 120),
        ('{"resetsAt": 1773150000}', 1773150000.0),
        ("Claude AI usage limit reached|1773150000", 1773150000.0),
        ("You have exhausted your daily quota on this model.", None),
        ("limit · resets 8am (Not/AZone)", None),
        ("limit · resets 8:75am (UTC)", None),
        ("limit · resets 25:00 (UTC)", None),
    ],
)
def test_reset_time(text: str, expected: str | float | None) -> None:
    if isinstance(expected, str):
        expected = datetime.fromisoformat(expected).timestamp()
    assert reset_time(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # epochs: after a bar or a reset word, in seconds or milliseconds
        ("Claude AI usage limit reached|1749924000", 1749924000.0),
        ("limit reached, resets at 1773150000", 1773150000.0),
        ('{"resets_at": 1773150000000}', 1773150000.0),
        # ISO times; one without an offset is UTC
        ("Rate limit reached, resets at 2026-03-10T13:15:00Z", NOW + 4500),
        ('"quotaResetTimeStamp": "2026-03-10T13:30:00+01:00"', NOW + 1800),
        ("resets at 2026-03-10 13:00:00", NOW + 3600),
        # spans, in every unit the CLIs print
        ("try again in 2 days 3 hours 20 minutes.", NOW + 2 * 86400 + 3 * 3600 + 20 * 60),
        ("Your quota will reset after 8h44m7s.]", NOW + 8 * 3600 + 44 * 60 + 7),
        ("Please try again in 1.5s.", NOW + 1.5),
        ('"retryDelay": "37s"', NOW + 37),
        ("Suggested retry after 60s.", NOW + 60),
        ("Try again in less than a minute.", NOW + 60),
        ("limit reached in 5 sessions", None),  # "sessions" is no unit of time
        ("Too many requests. Retry-After: 30", NOW + 30),
        ("retry_after: 2.5", NOW + 2.5),
        # clock times
        ("Session limit reached · resets 08:45pm (UTC)", at("2026-03-10T20:45:00+00:00")),
        ("resets 8:30 a.m. (UTC)", at("2026-03-11T08:30:00+00:00")),
        ("try again at 5:30:02 PM (UTC)", at("2026-03-10T17:30:02+00:00")),
        ("resets 12:00 (UTC)", NOW),  # not yet a minute past: still today
        ("resets 11:58 (UTC)", at("2026-03-11T11:58:00+00:00")),
        (
            "You've hit your weekly limit · resets Oct 6, 1pm (Europe/Berlin)",
            datetime(2026, 10, 6, 13, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp(),
        ),
        ("Try again at Dec 29th, 2025 10:15 PM (UTC)", at("2025-12-29T22:15:00+00:00")),
        ("resets Feb 30, 9am (UTC)", None),
        ("resets Foo 3, 9am (UTC)", None),
        ("resets 5", None),  # a bare number is no clock time
        ("You've hit your usage limit. Try again later.", None),
        ("exceeded retry limit, last status: 429 Too Many Requests", None),
    ],
)
def test_every_providers_phrasing(text: str, expected: float | None) -> None:
    assert reset_time(text, NOW) == (None if expected is None else pytest.approx(expected))


def test_clock_time_without_zone_is_local() -> None:
    now = datetime(2026, 3, 10, 14, 0).timestamp()  # naive: this machine's local time
    assert reset_time("Try again at 5:30 PM.", now) == now + 3.5 * 3600
    assert reset_time("try again at 09:08 AM", now) == datetime(2026, 3, 11, 9, 8).timestamp()


def test_a_date_without_year_seen_late_in_december_is_next_year() -> None:
    now = datetime(2026, 12, 30, 12, 0, tzinfo=UTC).timestamp()
    assert reset_time("resets Jan 2, 9am (UTC)", now) == at("2027-01-02T09:00:00+00:00")


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        (({"resetsAt": 1783045200},), 1783045200.0),
        (({"resets_at": 1783045200000},), 1783045200.0),
        (
            ({"requests_reset": "2026-01-01T00:01:00Z", "retry_after_ms": 60000},),
            at("2026-01-01T00:01:00+00:00"),
        ),
        (({"retry_after_ms": 60000},), NOW + 60),
        (({"resets_in_seconds": 90},), NOW + 90),
        (({"resetsAt": True, "retry_after": False},), None),  # booleans are no numbers
        (({"resetsAt": 0},), None),
        (({}, {"resets_at": 1783045200}), 1783045200.0),  # the first record naming one wins
        (({"status": "rejected"},), None),
    ],
)
def test_structured_records(
    records: tuple[Mapping[str, object], ...], expected: float | None
) -> None:
    assert reset_time("", NOW, *records) == expected


def test_records_come_before_the_text() -> None:
    assert reset_time("try again in 5s", NOW, {"resetsAt": 1783045200}) == 1783045200.0
    assert reset_time("try again in 5s", NOW, {"other": 1}) == NOW + 5


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("You've hit your usage limit", True),
        ("usage_limit_reached", True),
        ("rate_limit_error", True),
        ("Claude AI usage limit reached|1749924000", True),
        ("You've hit your 5-hour limit", True),
        ("429 Too Many Requests", True),
        ("Context limit reached · /compact or /clear to continue", False),
        ("Maximum session turns exceeded", False),
    ],
)
def test_limit_wording(text: str, limit: bool) -> None:
    assert bool(wording(LIMIT_WORDS).search(text)) is limit


@pytest.mark.parametrize(
    ("text", "fatal"),
    [
        ("Not logged in · Please run /login", True),
        ("Invalid API key · Please run /login", True),
        ("[API Error: API key not valid. Please pass a valid API key.]", True),
        ("unexpected status 401 Unauthorized: Missing bearer", True),
        ('{"type":"invalid_request_error"}', True),
        ("The 'x' model is not supported when using Codex with a ChatGPT account.", True),
        ("The model `gpt-9` does not exist", True),
        ("models/gemini-9 is not found for API version v1beta", True),
        ("Unknown arguments: full-auto, fullAuto", True),
        ("error: unexpected argument '--full-auto' found", True),
        ("API Error: 529 Overloaded", False),
        ("stream disconnected before completion", False),
        ("The model is overloaded. Please try again later.", False),
    ],
)
def test_fatal_wording(text: str, fatal: bool) -> None:
    assert bool(wording(FATAL_WORDS).search(text)) is fatal


def test_extra_phrases_extend_the_shared_words() -> None:
    pattern = wording(LIMIT_WORDS, r"quota")
    assert pattern.search("Quota exceeded") and pattern.search("RATE LIMIT")
    assert not wording(LIMIT_WORDS).search("Quota exceeded")


# --- every adapter reads resets the same way ---------------------------------------------


def claude_failure(text: str) -> tuple[LineParser, str]:
    line = {"type": "result", "subtype": "success", "is_error": True, "result": text}
    return ClaudeLineParser(clock=lambda: NOW), json.dumps(line)


def codex_failure(text: str) -> tuple[LineParser, str]:
    return CodexParser(now=lambda: NOW), json.dumps(
        {"type": "turn.failed", "error": {"message": text}}
    )


def gemini_failure(text: str) -> tuple[LineParser, str]:
    error = {"type": "unknown", "message": text}
    line = {"type": "result", "status": "error", "error": error, "stats": {}}
    return GeminiParser(clock=lambda: NOW), json.dumps(line)


FAILURES: dict[str, Callable[[str], tuple[LineParser, str]]] = {
    "claude": claude_failure,
    "codex": codex_failure,
    "gemini": gemini_failure,
}


@pytest.mark.parametrize("provider", sorted(FAILURES))
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "You've hit your session limit · resets 8:30am (America/Los_Angeles)",
            at("2026-03-10T15:30:00+00:00"),
        ),
        ("Rate limit reached. Please try again in 1h 2m 3s.", NOW + 3723),
        ("429 Too Many Requests; Retry-After: 120", NOW + 120),
        ("Usage limit reached|1773150000", 1773150000.0),
        ("Rate limit reached, resets at 2026-03-10T13:15:00Z", NOW + 4500),
        ("You've hit your usage limit. Try again later.", None),
    ],
)
def test_every_adapter_reads_the_same_reset(
    provider: str, text: str, expected: float | None
) -> None:
    parser, line = FAILURES[provider](text)
    facts: list[Fact] = parser.feed(line) + parser.finish()
    assert [f.resets_at for f in facts if isinstance(f, RateLimited)] == [expected]
    assert [(o.is_error, o.fatal) for o in facts if isinstance(o, Outcome)] == [(True, False)]
