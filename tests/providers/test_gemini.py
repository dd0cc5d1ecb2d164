"""The Gemini adapter against real captures, its command line, and the fake CLI as a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar, get_args

import pytest

from loki_mode.providers.base import (
    AgentFinished,
    AgentSpawned,
    CommandSpec,
    Fact,
    Ignored,
    Log,
    Outcome,
    Output,
    Provider,
    RateLimited,
    TaskUpsert,
    ToolUse,
    Usage,
)
from loki_mode.providers.gemini import GeminiParser, GeminiProvider
from tests.conftest import alive
from tests.providers.conftest import (
    captures,
    fake_env,
    fixtures_dir,
    ignores_term,
    read_lines,
    running,
)

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "fake_gemini.py"
PROMPT = "Build the items API.\nCOMPLETION PROMISE: ALL TESTS PASS\n"
PLAN = ["Design the data model", "Implement the API endpoints", "Write tests for the API"]
F = TypeVar("F", bound=Fact)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC).timestamp()


def capture_files() -> list[str]:
    return [p.name for p in captures("gemini")]


def capture(name: str) -> Path:
    return fixtures_dir() / "gemini" / name


def parse(lines: Sequence[str], parser: GeminiParser | None = None) -> list[Fact]:
    parser = parser or GeminiParser(clock=lambda: NOW)
    facts = [fact for line in lines for fact in parser.feed(line)]
    return facts + parser.finish()


def of(kind: type[F], facts: Sequence[Fact]) -> list[F]:
    return [f for f in facts if isinstance(f, kind)]


def outputs(facts: Sequence[Fact]) -> list[str]:
    return [f.text for f in facts if isinstance(f, Output)]


def tools(facts: Sequence[Fact]) -> list[tuple[str, str]]:
    return [(f.tool, f.target) for f in facts if isinstance(f, ToolUse)]


def usage_total(facts: Sequence[Fact]) -> tuple[int, int, int]:
    """(input, output, cache_read) summed over the run."""
    used = [f for f in facts if isinstance(f, Usage)]
    return (
        sum(u.input_tokens for u in used),
        sum(u.output_tokens for u in used),
        sum(u.cache_read_tokens for u in used),
    )


def final_tasks(facts: Sequence[Fact]) -> dict[str, tuple[str, str]]:
    return {f.key: (f.title, f.status) for f in facts if isinstance(f, TaskUpsert)}


def outcome(facts: Sequence[Fact]) -> Outcome:
    found = [f for f in facts if isinstance(f, Outcome)]
    assert len(found) == 1, found
    return found[0]


# --- every real capture --------------------------------------------------------------------


@pytest.mark.parametrize("name", capture_files())
def test_every_capture_line_yields_known_facts(name: str) -> None:
    parser = GeminiParser()
    for line in capture(name).read_text().splitlines():
        facts = parser.feed(line)
        assert facts, f"no fact for {line!r}"
        assert all(isinstance(f, get_args(Fact)) for f in facts)
        assert not any(isinstance(f, Log) and "parser failed" in f.message for f in facts)
    assert all(isinstance(f, get_args(Fact)) for f in parser.finish())


@dataclass(frozen=True)
class Pinned:
    tools: list[tuple[str, str]]
    outputs: list[str]
    usage: tuple[int, int, int]  # input (not cached), output incl. thinking, cache read
    models: list[str]
    outcome: Outcome | None
    errors: list[str] = field(default_factory=list)


# The eight deltas of the 0.44 capture, as they arrive.
SUMMARY_0_44 = "".join(
    [
        "This directory contains a mix of Python scripts, text, and Markdown files, likely for"
        " testing or",
        " demonstration purposes:\n\n- **example.py**: A simple script containing a `greet`"
        " function that returns a formatted string",
        ' and a main block that prints "Hello, world!".\n- **hello.txt**: A plain text file'
        " containing the",
        ' string "Hello, world!".\n- **markdown_examples.md**: A demonstration of various'
        " Markdown features, including typography (",
        "bold, italic), lists, links, images, code blocks (inline and multiline), tables, and"
        " blockquotes.",
        "\n- **notes.md**: A brief Markdown file used for testing.\n- **snippet_example.py**: A"
        " slightly more",
        " complex Python script featuring a `greet` function and a `Calculator` class with an"
        " `add` method, along with usage",
        " examples.\n\n",
    ]
)
INVALID_STREAM = "Invalid stream: The model returned an empty response or malformed tool call."
TMP = "/private/tmp/gemini-test"
SAMPLE = f"The file {TMP}/sample.txt contains the following:\ntest content from gemini research\n"

# Output tokens are total_tokens - input_tokens: the stats leave thinking out of output_tokens.
PINNED = {
    "SYNTHETIC_init_then-error.jsonl": Pinned(
        tools=[],
        outputs=[],
        usage=(0, 0, 0),
        models=[],
        outcome=Outcome(True, "API key invalid or expired", "stream_error", fatal=True),
        errors=["API key invalid or expired"],
    ),
    "SYNTHETIC_tool-use_success.jsonl": Pinned(
        tools=[("Bash", "echo hello"), ("write_file", "notes.md")],
        outputs=["The command output `hello`."],
        usage=(100, 50, 0),
        models=["gemini-2.0-flash-exp"],
        outcome=Outcome(False, "The command output `hello`.", "success"),
    ),
    "gemini0.11_edit-file_read-replace-read.jsonl": Pinned(
        tools=[
            ("read_file", f"{TMP}/created.txt"),
            ("replace", f"{TMP}/created.txt"),
            ("read_file", f"{TMP}/created.txt"),
        ],
        outputs=["Done."],
        usage=(21694, 22257 - 21694, 0),
        models=["gemini-2.5-pro"],
        outcome=Outcome(False, "Done.", "success"),
    ),
    "gemini0.11_read-file_tool-use.jsonl": Pinned(
        tools=[("read_file", f"{TMP}/sample.txt")],
        outputs=[SAMPLE],
        usage=(11068, 11431 - 11068, 0),
        models=["gemini-2.5-pro"],
        outcome=Outcome(False, SAMPLE, "success"),
    ),
    "gemini0.11_say-hello_text-only.jsonl": Pinned(
        tools=[],
        outputs=["Hello! I'm ready to help. What can I do for you?"],
        usage=(7352, 7386 - 7352, 0),
        models=["gemini-2.5-pro"],
        outcome=Outcome(False, "Hello! I'm ready to help. What can I do for you?", "success"),
    ),
    "gemini0.11_write-file_no-user-echo.jsonl": Pinned(
        tools=[("write_file", "/tmp/gemini-test/created.txt")],
        outputs=["Done.\n"],
        usage=(10902, 11054 - 10902, 0),
        models=["gemini-2.5-pro"],
        outcome=Outcome(False, "Done.\n", "success"),
    ),
    "gemini0.42_happy-path_text-only.jsonl": Pinned(
        tools=[],
        outputs=["ack"],
        usage=(10178, 1, 0),
        models=["gemini-3-flash-preview"],
        outcome=Outcome(False, "ack", "success"),
    ),
    "gemini0.42_invalid-model_result-error.jsonl": Pinned(
        tools=[],
        outputs=[],
        usage=(0, 0, 0),
        models=[],
        outcome=Outcome(
            True, "[API Error: Requested entity was not found.]", "unknown", fatal=True
        ),
    ),
    "gemini0.42_update-topic_read-file_split-delta.jsonl": Pinned(
        tools=[("update_topic", "Reading MARKER.txt"), ("read_file", "MARKER.txt")],
        outputs=["SWITCHBOARD_GEMINI_PROBE_TOOL_5F8A21"],  # one token split over two deltas
        usage=(12966, 100, 7559),
        models=["gemini-3-flash-preview"],
        outcome=Outcome(False, "SWITCHBOARD_GEMINI_PROBE_TOOL_5F8A21", "success"),
    ),
    "gemini0.44_parallel-tools_error-event_result-status-error.jsonl": Pinned(
        tools=[
            ("update_topic", "Summarizing Project Files"),
            ("list_directory", "."),
            ("read_file", "example.py"),
            ("read_file", "hello.txt"),
            ("read_file", "markdown_examples.md"),
            ("read_file", "notes.md"),
            ("read_file", "snippet_example.py"),
            ("update_topic", "Summary Complete"),
        ],
        outputs=[SUMMARY_0_44],
        # gemini-3.1-flash-lite 3787 in, 3943-3787 out; gemini-3-flash-preview 9333 in,
        # 46121 cached, 56191-55454 out.
        usage=(3787 + 9333, (3943 - 3787) + (56191 - 55454), 46121),
        models=["gemini-3.1-flash-lite", "gemini-3-flash-preview"],
        outcome=Outcome(True, INVALID_STREAM, "error", fatal=False),
        errors=[INVALID_STREAM],
    ),
}


def test_every_capture_is_pinned() -> None:
    assert capture_files(), f"no captures found in {fixtures_dir()}"
    assert set(capture_files()) == set(PINNED)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_capture_results(name: str) -> None:
    facts = parse(capture(name).read_text().splitlines())
    pinned = PINNED[name]
    assert tools(facts) == pinned.tools
    assert outputs(facts) == pinned.outputs
    assert usage_total(facts) == pinned.usage
    assert [u.model for u in facts if isinstance(u, Usage)] == pinned.models
    assert all(u.cost_usd is None for u in facts if isinstance(u, Usage))
    assert of(Outcome, facts) == ([pinned.outcome] if pinned.outcome else [])
    assert [f.message for f in facts if isinstance(f, Log) and f.level == "error"] == pinned.errors
    # None of the captures plans, spawns sub-agents or hits a limit.
    assert not of(TaskUpsert, facts) and not of(AgentSpawned, facts)
    assert not of(AgentFinished, facts) and not of(RateLimited, facts)


# --- parser rules ----------------------------------------------------------------------------


def event(kind: str, **fields: object) -> str:
    return json.dumps({"timestamp": "2026-03-10T12:00:00.000Z", "type": kind, **fields})


def delta(text: str) -> str:
    return event("message", role="assistant", content=text, delta=True)


def todos(*items: tuple[str, str]) -> str:
    params = {"todos": [{"status": s, "description": d} for d, s in items]}
    return event("tool_use", tool_name="write_todos", tool_id="w1", parameters=params)


def test_deltas_become_one_output_flushed_by_the_next_line() -> None:
    parser = GeminiParser()
    assert parser.feed(delta("LOKI_PHA")) == [Ignored("gemini.message.delta_buffered")]
    assert parser.feed(delta("SE: design\n")) == [Ignored("gemini.message.delta_buffered")]
    facts = parser.feed(
        event("tool_use", tool_name="glob", tool_id="g", parameters={"pattern": "*.py"})
    )
    assert facts == [Output("LOKI_PHASE: design\n"), ToolUse("glob", "*.py")]
    parser.feed(delta("tail"))
    assert parser.finish() == [Output("tail")]


def test_plain_text_and_odd_json_are_output_never_errors() -> None:
    facts = parse(["Loaded cached credentials.", delta("a"), "[1, 2]", "42", "", "{not json"])
    assert outputs(facts) == ["Loaded cached credentials.", "a", "[1, 2]", "42", "{not json"]
    assert Ignored("gemini.blank_line") in facts


@pytest.mark.parametrize(
    "line",
    [
        event("thought", subject="x"),
        event("message", role="system", content="x"),
        '{"type": ["list"]}',
        '{"no_type": 1}',
        event("tool_use", tool_name="write_todos", parameters={"todos": "nope"}),
        event("tool_use", tool_name=None, parameters=[1, 2]),
        event("tool_use", tool_name="write_todos", parameters={"todos": [1, None, {"status": 3}]}),
        event("tool_result", tool_id=None, status="error", error="boom"),
        event("result", status="error", error="boom", stats="none"),
        event("result", status="success", stats={"models": {"m": "x"}, "input_tokens": "7"}),
        event("message", role="assistant", content=None, delta=True),
        event("error", message=None, severity=None),
    ],
)
def test_odd_shapes_never_raise(line: str) -> None:
    parser = GeminiParser()
    facts = parser.feed(line) + parser.finish()
    assert facts and all(isinstance(f, get_args(Fact)) for f in facts)
    assert not any(isinstance(f, Log) and "parser failed" in f.message for f in facts)


def test_unknown_type_is_ignored_by_name() -> None:
    assert GeminiParser().feed(event("thought", subject="x")) == [Ignored("gemini.unknown_type")]


def test_user_echo_and_tool_success_are_ignored_tool_errors_logged() -> None:
    parser = GeminiParser()
    assert parser.feed(event("message", role="user", content="hi")) == [
        Ignored("gemini.message.user_echo")
    ]
    parser.feed(event("tool_use", tool_name="run_shell_command", tool_id="t1", parameters={}))
    assert parser.feed(event("tool_result", tool_id="t1", status="success", output="ok")) == [
        Ignored("gemini.tool_result.ok")
    ]
    error = {"type": "FILE_NOT_FOUND", "message": "File not found: a.py"}
    assert parser.feed(event("tool_result", tool_id="t1", status="error", error=error)) == [
        Log("warn", "run_shell_command failed: File not found: a.py")
    ]


def test_warning_event_is_logged_and_does_not_end_the_run() -> None:
    facts = parse([event("error", severity="warning", message="Loop detected, stopping execution")])
    assert facts == [Log("warn", "Loop detected, stopping execution")]


@pytest.mark.parametrize(
    ("params", "target"),
    [
        ({"absolute_path": "/a/b.py"}, "/a/b.py"),
        ({"dir_path": "src"}, "src"),
        ({"command": "npm test\nnpm run lint", "description": "Run checks"}, "npm test"),
        ({"pattern": "TODO", "path": "src"}, "src"),
        ({"query": "python zoneinfo"}, "python zoneinfo"),
        ({"prompt": "Summarize https://example.com"}, "Summarize https://example.com"),
        ({"paths": ["a.py", "b.py"]}, "a.py, b.py"),
        ({"fact": "Uses uv"}, "Uses uv"),
        ({}, ""),
    ],
)
def test_tool_targets(params: dict[str, object], target: str) -> None:
    line = event("tool_use", tool_name="t", tool_id="1", parameters=params)
    assert GeminiParser().feed(line) == [ToolUse("t", target)]


def test_plan_keys_are_stable_and_statuses_mapped() -> None:
    parser = GeminiParser()
    first = of(
        TaskUpsert, parser.feed(todos(("Write the parser", "pending"), ("Add tests", "pending")))
    )
    again = of(
        TaskUpsert,
        parser.feed(todos(("Write the parser", "in_progress"), ("Add tests", "cancelled"))),
    )
    last = of(
        TaskUpsert,
        parser.feed(todos(("Write the parser", "completed"), ("Add tests", "cancelled"))),
    )
    keys = [t.key for t in first]
    assert len(set(keys)) == 2 and all(k.startswith("todo-") for k in keys)
    assert [t.key for t in again] == keys == [t.key for t in last]
    assert [t.status for t in again] == ["running", "skipped"]
    assert [(t.title, t.status) for t in last] == [
        ("Write the parser", "completed"),
        ("Add tests", "skipped"),
    ]
    # A fresh parser (the next iteration) derives the same keys from the same text.
    assert [
        t.key for t in of(TaskUpsert, GeminiParser().feed(todos(("Add tests", "pending"))))
    ] == [keys[1]]


def test_plan_duplicates_and_dropped_items() -> None:
    parser = GeminiParser()
    facts = parser.feed(
        todos(("Run tests", "completed"), ("Run tests", "pending"), ("Ship", "pending"))
    )
    dup_keys = [t.key for t in of(TaskUpsert, facts)][:2]
    assert dup_keys[1] == f"{dup_keys[0]}-2"
    later = of(
        TaskUpsert, parser.feed(todos(("Run tests", "completed"), ("Run tests", "in_progress")))
    )
    assert [(t.key, t.status) for t in later][:2] == [
        (dup_keys[0], "completed"),
        (dup_keys[1], "running"),
    ]
    # "Ship" vanished from the list while unfinished, so it was dropped.
    assert [(t.title, t.status) for t in later[2:]] == [("Ship", "skipped")]


def test_long_plan_text_gets_a_short_title_and_keeps_the_description() -> None:
    text = "Refactor " + "x" * 200 + "\nsecond line"
    (task,) = of(TaskUpsert, GeminiParser().feed(todos((text, "pending"))))
    assert len(task.title) == 100 and task.title.endswith("…") and task.description == text


def stats(prompt: int, cached: int, output: int, total: int) -> dict[str, object]:
    row = {"total_tokens": total, "input_tokens": prompt, "output_tokens": output, "cached": cached}
    return {
        **row,
        "input": prompt - cached,
        "duration_ms": 5,
        "tool_calls": 0,
        "models": {"m": row},
    }


def test_two_results_in_one_process_count_only_what_was_added() -> None:
    facts = parse(
        [
            event("init", session_id="s", model="m"),
            event("result", status="success", stats=stats(1000, 200, 50, 1060)),
            event("result", status="success", stats=stats(3000, 1200, 80, 3100)),
        ]
    )
    used = of(Usage, facts)
    assert used == [
        Usage(800, 60, cache_read_tokens=200, model="m"),
        Usage(1000, 40, cache_read_tokens=1000, model="m"),
    ]
    assert usage_total(facts) == (1800, 100, 1200)  # the second result's own totals
    assert len(of(Outcome, facts)) == 2


def quota_result(message: str, kind: str = "unknown") -> str:
    return event("result", status="error", error={"type": kind, "message": message}, stats={})


@pytest.mark.parametrize(
    ("kind", "message", "resets_at"),
    [
        (
            "TerminalQuotaError",
            "[API Error: You have exhausted your capacity on this model. "
            "Your quota will reset after 8h44m7s.]",
            NOW + 8 * 3600 + 44 * 60 + 7,
        ),
        (
            "RetryableQuotaError",
            "Quota exceeded for quota metric 'Generate Content API requests per minute'. "
            "Please retry in 37.2s",
            NOW + 37.2,
        ),
        ("unknown", "[API Error: You have exhausted your daily quota on this model.]", None),
        (
            "unknown",
            '{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [{"metadata": '
            '{"quotaResetDelay": "1h", "quotaResetTimeStamp": "2026-03-10T13:30:00Z"}}]}}',
            NOW + 5400,
        ),
        ("unknown", "Resource exhausted.\nSuggested retry after 60s.", NOW + 60),
    ],
)
def test_quota_errors_are_rate_limits(kind: str, message: str, resets_at: float | None) -> None:
    facts = parse([quota_result(message, kind)])
    assert of(RateLimited, facts) == [RateLimited(message, resets_at)]
    assert outcome(facts) == Outcome(True, message, kind, fatal=False)


@pytest.mark.parametrize(
    ("message", "fatal"),
    [
        ("[API Error: Requested entity was not found.]", True),
        ("[API Error: models/gemini-9 is not found for API version v1beta]", True),
        ("[API Error: API key not valid. Please pass a valid API key.]", True),
        ("Please set an Auth method in your settings.json or specify GEMINI_API_KEY", True),
        ("[API Error: Request contains an invalid argument. (Status: 400)]", True),
        ("Unknown arguments: full-auto, fullAuto", True),
        ("[API Error: exception TypeError: fetch failed sending request]", False),
        ("[API Error: The model is overloaded. Please try again later.]", False),
    ],
)
def test_fatal_failures(message: str, fatal: bool) -> None:
    facts = parse([quota_result(message)])
    assert outcome(facts).fatal is fatal and not of(RateLimited, facts)


def test_fatal_from_error_type_and_trailing_error_without_result() -> None:
    assert outcome(parse([quota_result("bad creds", "FatalAuthenticationError")])).fatal
    facts = parse([event("error", severity="error", message="Maximum session turns exceeded")])
    assert outcome(facts) == Outcome(True, "Maximum session turns exceeded", "stream_error")


def test_result_error_without_error_field_uses_the_error_event() -> None:
    facts = parse(
        [event("error", severity="error", message="boom"), event("result", status="error")]
    )
    assert outcome(facts) == Outcome(True, "boom", "error")


# --- command line ----------------------------------------------------------------------------


def test_provider_identity_and_fresh_parsers() -> None:
    provider: Provider = GeminiProvider()
    assert (provider.name, provider.default_executable, provider.env_var) == (
        "gemini",
        "gemini",
        "LOKI_GEMINI_CMD",
    )
    assert provider.parser() is not provider.parser()


def test_argv_default() -> None:
    argv = GeminiProvider().build_argv("do it", CommandSpec(("gemini",)), "/proj")
    assert argv == [
        "gemini",
        "-p",
        "do it",
        "--output-format",
        "stream-json",
        "--approval-mode",
        "yolo",
    ]


def test_argv_model_extra_args_and_custom_executable() -> None:
    spec = CommandSpec(
        ("python3", "fake.py", "--scenario", "crash"),
        model="gemini-2.5-flash",
        extra_args=("--include-directories", "../lib"),
    )
    assert GeminiProvider().build_argv("-x looks like a flag", spec, "/proj") == [
        "python3", "fake.py", "--scenario", "crash",
        "-p", "-x looks like a flag", "--output-format", "stream-json", "--approval-mode", "yolo",
        "-m", "gemini-2.5-flash",
        "--include-directories", "../lib",
    ]  # fmt: skip


# --- the fake CLI, run as a real process ------------------------------------------------------


def fake_argv(scenario: str, prompt: str = PROMPT) -> list[str]:
    spec = CommandSpec(
        (sys.executable, str(FAKE), "--scenario", scenario), model="gemini-2.5-flash"
    )
    return GeminiProvider().build_argv(prompt, spec, ".")


def run_fake(tmp_path: Path, scenario: str, **env: str) -> tuple[int, list[str], list[Fact]]:
    done = subprocess.run(
        fake_argv(scenario),
        cwd=tmp_path,
        env=fake_env(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
        start_new_session=True,
    )
    lines = done.stdout.splitlines()
    return done.returncode, lines, parse(lines, GeminiParser())


@contextmanager
def running_fake(tmp_path: Path, scenario: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    with running(fake_argv(scenario), tmp_path, fake_env(**env)) as proc:
        yield proc


def assert_success_run(facts: Sequence[Fact]) -> None:
    tasks = [f for f in facts if isinstance(f, TaskUpsert)]
    keys = {title: {t.key for t in tasks if t.title == title} for title in PLAN}
    assert all(len(k) == 1 for k in keys.values()), keys  # one key per item across re-sends
    first = [t.status for t in tasks if t.title == PLAN[0]]
    assert first[:3] == ["pending", "running", "completed"]
    assert sorted(final_tasks(facts).values()) == sorted((t, "completed") for t in PLAN)
    plan = ("write_todos", "3 todo(s)")
    assert tools(facts) == [
        ("read_file", "PRD.md"),
        plan,
        plan,
        plan,
        ("write_file", "app.py"),
        plan,
        ("run_shell_command", "python -m pytest -q"),
        plan,
    ]
    text_lines = "".join(outputs(facts)).splitlines()
    assert text_lines.index("LOKI_PHASE: design") < text_lines.index("LOKI_PHASE: implement")
    assert usage_total(facts) == (8000, 850, 4000)  # 12000 prompt = 8000 + 4000 cached; 600 + 250
    assert [(u.model, u.cost_usd) for u in facts if isinstance(u, Usage)] == [
        ("gemini-2.5-flash", None)
    ]
    assert not outcome(facts).is_error
    assert not of(RateLimited, facts) and not of(AgentSpawned, facts)


def test_fake_success(tmp_path: Path) -> None:
    code, _, facts = run_fake(tmp_path, "success")
    assert code == 0
    assert_success_run(facts)
    assert "ALL TESTS PASS" not in "".join(outputs(facts))
    assert (tmp_path / ".fake-prompts" / "prompt-1.txt").read_text() == PROMPT
    assert next(f for f in facts if isinstance(f, Log)).message.endswith("model gemini-2.5-flash")


def test_fake_promise(tmp_path: Path) -> None:
    code, _, facts = run_fake(tmp_path, "promise")
    assert code == 0
    assert_success_run(facts)
    assert "ALL TESTS PASS" in "".join(outputs(facts)).splitlines()
    assert outcome(facts).text.endswith("\nALL TESTS PASS\n")


def test_fake_crash_is_retryable(tmp_path: Path) -> None:
    code, lines, facts = run_fake(tmp_path, "crash")
    assert code == 1 and len(lines) == 6
    result = outcome(facts)
    assert result.is_error and not result.fatal and "fetch failed" in result.text
    assert not of(RateLimited, facts)


@pytest.mark.parametrize(("env", "seconds"), [({}, 2.0), ({"FAKE_RESET_SECONDS": "3700"}, 3700.0)])
def test_fake_ratelimit(tmp_path: Path, env: dict[str, str], seconds: float) -> None:
    before = time.time()
    code, _, facts = run_fake(tmp_path, "ratelimit", **env)
    after = time.time()
    assert code == 1
    (limit,) = of(RateLimited, facts)
    assert limit.resets_at is not None
    assert before + seconds - 1 <= limit.resets_at <= after + seconds + 1
    assert outcome(facts).subtype == "TerminalQuotaError" and not outcome(facts).fatal


def test_fake_auth_is_fatal(tmp_path: Path) -> None:
    code, _, facts = run_fake(tmp_path, "auth")
    assert code == 1
    assert outcome(facts).is_error and outcome(facts).fatal
    assert not of(RateLimited, facts)


def test_fake_ask(tmp_path: Path) -> None:
    code, _, facts = run_fake(tmp_path, "ask")
    assert code == 0
    assert "LOKI_INPUT_NEEDED: Which database should I use?" in "".join(outputs(facts)).splitlines()
    assert not outcome(facts).is_error


def test_fake_flood(tmp_path: Path) -> None:
    code, lines, facts = run_fake(tmp_path, "flood")
    assert code == 0 and len(lines) == 2000 + 3
    # The deltas form one assistant message, hence one Output holding every line.
    assert outputs(facts) == ["".join(f"line {i}\n" for i in range(2000))]
    assert not outcome(facts).is_error


def test_fake_flood_honours_fake_lines(tmp_path: Path) -> None:
    _, lines, facts = run_fake(tmp_path, "flood", FAKE_LINES="5")
    assert len(lines) == 8 and outputs(facts)[0].splitlines()[-1] == "line 4"


def test_fake_slow_honours_fake_line_delay(tmp_path: Path) -> None:
    started = time.monotonic()
    code, lines, facts = run_fake(tmp_path, "slow", FAKE_LINE_DELAY="0.01")
    assert code == 0 and time.monotonic() - started >= 0.01 * len(lines)
    assert_success_run(facts)


def test_fake_slow_defaults_to_a_third_of_a_second(tmp_path: Path) -> None:
    with running_fake(tmp_path, "slow") as proc:
        read_lines(proc, 1)
        started = time.monotonic()
        read_lines(proc, 1)
        assert time.monotonic() - started >= 0.25


def test_fake_hang_keeps_running_after_its_first_text(tmp_path: Path) -> None:
    with running_fake(tmp_path, "hang") as proc:
        facts = parse(read_lines(proc, 4), GeminiParser())
        assert outputs(facts) == ["Starting the dev server to check the page renders.\n"]
        assert tools(facts) == [("run_shell_command", "npm run dev")]
        time.sleep(0.2)
        assert proc.poll() is None


def test_fake_ignore_term_leaves_a_child_that_ignores_term(tmp_path: Path) -> None:
    child = 0
    with running_fake(tmp_path, "ignore-term") as proc:
        try:
            read_lines(proc, 1)
            child = int((tmp_path / ".fake-child-pids").read_text().split()[0])
            deadline = time.monotonic() + 5
            while not ignores_term(child):
                assert time.monotonic() < deadline, "grandchild never ignored SIGTERM"
                time.sleep(0.02)
            assert ignores_term(proc.pid)
            os.killpg(proc.pid, signal.SIGTERM)
            time.sleep(0.2)
            assert proc.poll() is None and alive(child)
        finally:
            if child:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive(child):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_fake_replay_prints_the_capture_as_is(tmp_path: Path) -> None:
    replayed = capture("gemini0.42_update-topic_read-file_split-delta.jsonl")
    code, lines, _ = run_fake(tmp_path, f"replay:{replayed}")
    assert code == 0 and lines == replayed.read_text().splitlines()
    code, _, _ = run_fake(tmp_path, f"replay:{replayed}", FAKE_EXIT_CODE="3")
    assert code == 3


def test_fake_runs_a_scenario_list_and_records_each_prompt(tmp_path: Path) -> None:
    assert run_fake(tmp_path, "crash,success")[0] == 1
    assert run_fake(tmp_path, "crash,success")[0] == 0
    assert run_fake(tmp_path, "crash,success")[0] == 0
    assert sorted(p.name for p in (tmp_path / ".fake-prompts").iterdir()) == [
        "prompt-1.txt",
        "prompt-2.txt",
        "prompt-3.txt",
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--prompt=hello there", "--yolo"],
        ["-y", "--model", "m", "hello there"],
        ["--output-format", "stream-json", "-p", "hello there", "--debug"],
    ],
)
def test_fake_takes_the_prompt_from_any_real_spelling(tmp_path: Path, args: list[str]) -> None:
    subprocess.run(
        [sys.executable, str(FAKE), "--scenario", "ask", *args],
        cwd=tmp_path,
        env=fake_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
        timeout=20,
    )
    assert (tmp_path / ".fake-prompts" / "prompt-1.txt").read_text() == "hello there"
