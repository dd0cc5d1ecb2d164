"""The Codex adapter: real captures, command lines, edge cases, and the fake CLI end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo

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
    RateLimited,
    TaskUpsert,
    ToolUse,
    Usage,
)
from loki_mode.providers.codex import CodexParser, CodexProvider
from tests.conftest import alive
from tests.providers.conftest import (
    captures,
    fake_env,
    fixtures_dir,
    ignores_term,
    read_lines,
    running,
    usage_totals,
)

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "fake_codex.py"
PROMPT = "Build the todo API from PRD.md.\nCOMPLETION PROMISE: ALL TESTS PASS\n"


def capture_names() -> list[str]:
    return [p.name for p in captures("codex")]


@dataclass
class Run:
    """Every fact of one run, with the views the assertions need."""

    per_line: list[list[Fact]]
    facts: list[Fact] = field(default_factory=list)

    def of(self, kind: type[Any]) -> list[Any]:
        return [f for f in self.facts if isinstance(f, kind)]

    @property
    def tasks(self) -> dict[str, tuple[str, str]]:
        return {t.key: (t.title, t.status) for t in self.of(TaskUpsert)}

    @property
    def usage(self) -> tuple[int, int, int, int, float | None]:
        return usage_totals(self.facts)

    @property
    def outcomes(self) -> list[tuple[bool, bool]]:
        return [(o.is_error, o.fatal) for o in self.of(Outcome)]

    @property
    def texts(self) -> list[str]:
        return [o.text for o in self.of(Output)]


def parse(lines: list[str], parser: CodexParser | None = None) -> Run:
    parser = parser or CodexProvider().parser()
    run = Run([parser.feed(line) for line in lines])
    run.facts = [f for facts in run.per_line for f in facts] + parser.finish()
    return run


def parse_capture(name: str) -> Run:
    return parse((fixtures_dir() / "codex" / name).read_text(encoding="utf-8").splitlines())


def event(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


def item(phase: str, **fields: Any) -> str:
    return event(f"item.{phase}", item=fields)


# -- every real capture -----------------------------------------------------------------


@pytest.mark.parametrize("name", capture_names())
def test_every_capture_line_yields_known_facts(name: str) -> None:
    run = parse_capture(name)
    kinds = get_args(Fact)
    for number, facts in enumerate(run.per_line, start=1):
        assert facts, f"{name}:{number} yielded nothing"
        assert all(isinstance(f, kinds) for f in facts), facts


@dataclass(frozen=True)
class Expected:
    usage: tuple[int, int, int, int, float | None]  # input, output, cache read, cache write, cost
    outcomes: list[tuple[bool, bool]]  # (is_error, fatal) per result line
    tasks: dict[str, tuple[str, str]] = field(default_factory=dict)
    spawned: list[tuple[str, str]] = field(default_factory=list)
    finished: list[tuple[str, bool, str]] = field(default_factory=list)
    limits: list[float | None] = field(default_factory=list)
    tools: list[tuple[str, str]] | None = None  # None: not pinned here


# Worked out by reading each file. Codex counts cached tokens inside input_tokens;
# Usage.input_tokens is the uncached part (input_tokens - cached_input_tokens).
EXPECTED = {
    "SYNTHETIC_all-item-types_todo-list_mcp_web-search_turn-failed.jsonl": Expected(
        usage=(1840 - 256, 732, 256, 0, None),
        outcomes=[(False, False), (True, False)],
        tasks={
            "item_0:0": ("Inspect repo structure", "completed"),
            "item_0:1": ("Run tests", "completed"),
            "item_0:2": ("Fix failing tests", "completed"),
        },
        tools=[
            ("shell", "pytest -q"),
            ("shell", "pytest -q"),
            ("apply_patch", "update src/compute_answer.py, add README.md"),
            ("apply_patch", "update src/compute_answer.py"),
            ("github.search_issues", "q=exec --json"),
            ("github.search_issues", ""),
            ("web_search", "codex exec --json schema"),
        ],
    ),
    "SYNTHETIC_message-phase_collab-tool-call_unknown-item.jsonl": Expected(
        usage=(10, 5, 0, 0, None),
        outcomes=[(False, False)],
        spawned=[("item_3", "collab")],
        finished=[("item_3", False, "done")],
        tools=[],
    ),
    "codex0.130_auth-401_reconnect-errors_turn-failed.jsonl": Expected(
        usage=(0, 0, 0, 0, None), outcomes=[(True, True)], tools=[]
    ),
    "codex0.130_invalid-model_400_turn-failed.jsonl": Expected(
        usage=(0, 0, 0, 0, None), outcomes=[(True, True)], tools=[]
    ),
    "codex0.130_mcp-tool-call-failed.jsonl": Expected(
        usage=(31254 - 22784, 65, 22784, 0, None),
        outcomes=[(False, False)],
        tools=[("example_mcp_server.list_tags", "")],
    ),
    "codex0.144_failed-command_file-change.jsonl": Expected(
        usage=(61559 - 47616, 396, 47616, 0, None),
        outcomes=[(False, False)],
        tools=[
            ("shell", "git status --short"),
            (
                "apply_patch",
                "update /private/tmp/facet-probe/scratch/alpha.txt, "
                "add /private/tmp/facet-probe/scratch/zeta.txt",
            ),
        ],
    ),
    "codex0.46_bash-ls_command-execution.jsonl": Expected(
        usage=(6040 - 4992, 129, 4992, 0, None), outcomes=[(False, False)], tools=[("shell", "ls")]
    ),
    "codex0.46_file-change-add.jsonl": Expected(
        usage=(6008 - 4096, 51, 4096, 0, None),
        outcomes=[(False, False)],
        tools=[("apply_patch", "add /private/tmp/codex-research-test/hello.txt")],
    ),
    "codex0.46_zsh-ls_two-reasoning-items.jsonl": Expected(
        usage=(6086 - 2944, 223, 2944, 0, None), outcomes=[(False, False)], tools=[("shell", "ls")]
    ),
    "codex_dec2025_explore-repo_14-commands_reasoning_summary.jsonl": Expected(
        usage=(76296 - 57728, 2682, 57728, 0, None), outcomes=[(False, False)]
    ),
    "codex_gpt-5.5_minimal-effort-400_error-turn-failed_x2.jsonl": Expected(
        usage=(0, 0, 0, 0, None), outcomes=[(True, True), (True, True)], tools=[]
    ),
    "codex_nov2025_todo-list_7-commands_reasoning_second-run.jsonl": Expected(
        usage=(101835 - 90752, 2113, 90752, 0, None),
        outcomes=[(False, False)],
        tasks={
            "item_0:0": ("Inspect repo and branch status", "completed"),
            "item_0:1": ("Review local docs for context", "completed"),
            "item_0:2": ("Run tests/build to reproduce", "completed"),
            "item_0:3": ("Identify root cause and fix", "completed"),
            "item_0:4": ("Add/adjust tests", "completed"),
            "item_0:5": ("Commit changes to branch", "completed"),
        },
    ),
}


def test_every_capture_has_pinned_results() -> None:
    assert set(capture_names()) <= set(EXPECTED), "pin the results of new captures below"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_capture_results(name: str) -> None:
    run, want = parse_capture(name), EXPECTED[name]
    assert run.usage == want.usage
    assert run.outcomes == want.outcomes
    assert run.tasks == want.tasks
    assert [(a.agent_id, a.agent_type) for a in run.of(AgentSpawned)] == want.spawned
    assert [(a.agent_id, a.failed, a.result) for a in run.of(AgentFinished)] == want.finished
    assert [r.resets_at for r in run.of(RateLimited)] == want.limits
    if want.tools is not None:
        assert [(t.tool, t.target) for t in run.of(ToolUse)] == want.tools


def test_all_item_types_capture_details() -> None:
    run = parse_capture("SYNTHETIC_all-item-types_todo-list_mcp_web-search_turn-failed.jsonl")
    # The plan is re-sent whole; only entries whose status changed are upserted again.
    assert [(t.key, t.status) for t in run.of(TaskUpsert)] == [
        ("item_0:0", "running"),
        ("item_0:1", "pending"),
        ("item_0:2", "pending"),
        ("item_0:0", "completed"),
        ("item_0:1", "running"),
        ("item_0:1", "completed"),
        ("item_0:2", "completed"),
    ]
    warnings = [log.message for log in run.of(Log) if log.level == "warn"]
    assert warnings == [
        "command exited 1: pytest -q",
        "patch failed: update src/compute_answer.py",
        "github.search_issues failed: tool timeout",
        "command output truncated",
    ]
    assert run.of(Outcome)[0].text == "Updated src/compute_answer.py and tests pass."
    assert run.of(Outcome)[1].text.startswith("Aborted: required dependency `npm` is missing")


def test_phase_and_unknown_item_capture() -> None:
    run = parse_capture("SYNTHETIC_message-phase_collab-tool-call_unknown-item.jsonl")
    assert run.texts == ["Inspecting repository state.", "Implemented the requested changes."]
    assert run.of(AgentSpawned)[0].description == "Find failing tests"
    assert Ignored("codex.item.unknown_type") in run.facts


def test_auth_capture_reconnects_are_warnings_and_the_failure_is_fatal() -> None:
    run = parse_capture("codex0.130_auth-401_reconnect-errors_turn-failed.jsonl")
    levels = [log.level for log in run.of(Log)]
    assert levels == ["info"] + ["warn"] * 9 + ["error"]
    assert "401 Unauthorized" in run.of(Outcome)[0].text


def test_json_encoded_errors_are_decoded() -> None:
    run = parse_capture("codex0.130_invalid-model_400_turn-failed.jsonl")
    assert run.of(Outcome)[0].text == (
        "The 'invalid-model-name' model is not supported when using Codex with a ChatGPT account."
    )
    pretty = parse_capture("codex_gpt-5.5_minimal-effort-400_error-turn-failed_x2.jsonl")
    assert [o.text[:24] for o in pretty.of(Outcome)] == [
        "The following tools cann",
        "Unsupported value: 'mini",
    ]


def test_mcp_failure_without_error_field_reports_the_result_text() -> None:
    run = parse_capture("codex0.130_mcp-tool-call-failed.jsonl")
    assert Log("warn", "example_mcp_server.list_tags failed: Invalid or expired token") in run.facts


def test_long_capture_counts() -> None:
    explore = parse_capture("codex_dec2025_explore-repo_14-commands_reasoning_summary.jsonl")
    assert len(explore.of(ToolUse)) == 15
    assert explore.of(ToolUse)[0].target == "cd /Users/banteg/dev/banteg/agents/takopi && ls"
    assert len([log for log in explore.of(Log) if log.level == "debug"]) == 3
    todo = parse_capture("codex_nov2025_todo-list_7-commands_reasoning_second-run.jsonl")
    assert len(todo.of(ToolUse)) == 7
    assert Ignored("codex.todo_list.unchanged") in todo.facts
    assert len(todo.texts) == 2


# -- command line -----------------------------------------------------------------------


def test_provider_identity() -> None:
    provider = CodexProvider()
    assert (provider.name, provider.default_executable, provider.env_var) == (
        "codex",
        "codex",
        "LOKI_CODEX_CMD",
    )
    assert provider.parser() is not provider.parser()


def test_argv_defaults() -> None:
    argv = CodexProvider().build_argv("Do the work", CommandSpec(("codex",)), "/srv/app")
    assert argv == [
        "codex",
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "-C",
        "/srv/app",
        "--",
        "Do the work",
    ]


def test_argv_model_extra_args_and_custom_executable() -> None:
    spec = CommandSpec(("npx", "-y", "@openai/codex"), "gpt-5-codex", ("-c", "foo=1"))
    argv = CodexProvider().build_argv("-starts with a dash", spec, "/p")
    assert argv[:4] == ["npx", "-y", "@openai/codex", "exec"]
    assert argv[argv.index("-m") + 1] == "gpt-5-codex"
    assert argv[-5:] == ["/p", "-c", "foo=1", "--", "-starts with a dash"]


# -- parser edge cases ------------------------------------------------------------------


def test_plain_blank_and_odd_lines() -> None:
    parser = CodexParser()
    assert parser.feed("Reading prompt from stdin...") == [Output("Reading prompt from stdin...")]
    assert parser.feed("   ") == [Ignored("codex.blank_line")]
    assert parser.feed("[1, 2]") == [Output("[1, 2]")]
    assert parser.feed('{"type": "session.configured"}') == [Ignored("codex.unknown_type")]
    assert parser.feed('{"no_type": 1}') == [Ignored("codex.unknown_type")]
    assert parser.feed(item("completed", id="i", type="image_view")) == [
        Ignored("codex.item.unknown_type")
    ]


@pytest.mark.parametrize(
    "line",
    [
        '{"type": "item.completed", "item": "not an object"}',
        '{"type": "item.completed", "item": {"type": "todo_list", "items": [1, null]}}',
        '{"type": "turn.completed", "usage": {"input_tokens": "many"}}',
        '{"type": "turn.failed", "error": "plain string"}',
        '{"type": "item.started", "item": {"type": "collab_tool_call", "agents_states": []}}',
        '{"type": "item.completed", "item": {"type": "command_execution", "command": "\'"}}',
        '{"type": "error"}',
    ],
)
def test_malformed_events_never_raise(line: str) -> None:
    facts = CodexParser().feed(line)
    assert facts
    assert all(isinstance(f, get_args(Fact)) for f in facts)


def test_key_order_does_not_matter() -> None:
    line = '{"item": {"text": "hi", "type": "agent_message", "id": "i9"}, "type": "item.completed"}'
    assert CodexParser().feed(line) == [Output("hi")]


def test_cumulative_usage_becomes_deltas() -> None:
    def turn(prompt: int, cached: int, output: int) -> str:
        usage = {"input_tokens": prompt, "cached_input_tokens": cached, "output_tokens": output}
        return event("turn.completed", usage=usage)

    run = parse([turn(100, 40, 10), turn(250, 100, 30), turn(250, 100, 30)])
    assert run.usage == (150, 30, 100, 0, None)  # totals of the last cumulative line
    restarted = parse([turn(100, 40, 10), event("thread.started", thread_id="t2"), turn(50, 0, 5)])
    assert restarted.usage == (60 + 50, 15, 40, 0, None)


def test_plan_keys_stay_stable_and_the_finished_list_runs_nothing() -> None:
    def plan(phase: str, done: list[bool]) -> str:
        entries = [{"text": f"step {i}", "completed": d} for i, d in enumerate(done)]
        return item(phase, id="item_3", type="todo_list", items=entries)

    run = parse([plan("started", [False, False]), plan("updated", [False, False])])
    assert run.per_line[1] == [Ignored("codex.todo_list.unchanged")]
    assert run.tasks == {"item_3:0": ("step 0", "running"), "item_3:1": ("step 1", "pending")}
    ended = parse([plan("started", [True, False]), plan("completed", [True, False])])
    assert ended.tasks["item_3:1"] == ("step 1", "pending")


def collab(phase: str, item_id: str, tool: str, threads: list[str], **states: str) -> str:
    agents = {t: {"status": s, "message": None} for t, s in states.items()}
    return item(
        phase,
        id=item_id,
        type="collab_tool_call",
        tool=tool,
        sender_thread_id="main",
        receiver_thread_ids=threads,
        prompt="Check the flaky test",
        agents_states=agents,
        status="completed" if phase == "completed" else "in_progress",
    )


def test_sub_agent_lifecycle_across_wait() -> None:
    run = parse(
        [
            collab("started", "item_1", "spawn_agent", []),
            collab("completed", "item_1", "spawn_agent", ["w1"], w1="running"),
            collab("started", "item_2", "wait", ["w1"]),
            collab("completed", "item_2", "wait", ["w1"], w1="errored"),
            collab("completed", "item_3", "close_agent", ["w1"], w1="shutdown"),
        ]
    )
    assert run.of(AgentSpawned) == [AgentSpawned("item_1", "collab", "Check the flaky test")]
    assert run.of(AgentFinished) == [AgentFinished("item_1", failed=True, result="errored")]
    assert [(t.tool, t.target) for t in run.of(ToolUse)] == [
        ("wait", "item_1"),
        ("close_agent", "item_1"),
    ]


def test_unfinished_agent_and_turn_are_closed_by_finish() -> None:
    parser = CodexParser()
    parser.feed(event("turn.started"))
    parser.feed(collab("completed", "item_5", "spawn_agent", ["w9"], w9="pending_init"))
    finished = parser.finish()
    assert [type(f) for f in finished] == [AgentFinished, Log]
    assert isinstance(finished[0], AgentFinished) and finished[0].failed
    assert parser.finish() == []


def test_failed_spawn_finishes_the_agent() -> None:
    spawn = json.loads(collab("completed", "item_4", "spawn_agent", []))
    spawn["item"]["status"] = "failed"
    run = parse([json.dumps(spawn)])
    assert [(a.agent_id, a.failed) for a in run.of(AgentFinished)] == [("item_4", True)]


NOW = datetime(2026, 3, 10, 14, 0, 0).timestamp()  # local time, like Codex's clock times
# 8:30 in Los Angeles on NOW's date there, or the next day when that has passed: which one
# depends on this machine's zone (14:00 in New York is already 11:00 in Los Angeles).
_LA_0830 = datetime.fromtimestamp(NOW, ZoneInfo("America/Los_Angeles")).replace(hour=8, minute=30)
LA_0830_AFTER_NOW = (
    _LA_0830.timestamp()
    if _LA_0830.timestamp() >= NOW
    else (_LA_0830 + timedelta(days=1)).timestamp()
)


def failed_turn(message: str) -> Run:
    lines = [event("error", message=message), event("turn.failed", error={"message": message})]
    return parse(lines, CodexParser(now=lambda: NOW))


@pytest.mark.parametrize(
    ("message", "resets_at"),
    [
        (
            "You've hit your usage limit. Upgrade to Plus to continue using Codex "
            "(https://openai.com/chatgpt/pricing), or try again in 2 days 3 hours 20 minutes.",
            NOW + 2 * 86400 + 3 * 3600 + 20 * 60,
        ),
        ("You've hit your usage limit. Try again at 5:30 PM.", NOW + 3.5 * 3600),
        (
            "You've hit your usage limit. Visit https://chatgpt.com/codex/settings/usage to "
            "purchase more credits or try again at 09:08 AM.",  # past today: tomorrow, not octal
            datetime(2026, 3, 11, 9, 8).timestamp(),
        ),
        (
            "You've hit your usage limit. Try again at Dec 29th, 2025 10:15 PM.",
            datetime(2025, 12, 29, 22, 15).timestamp(),
        ),
        (
            "You've hit your session limit · resets 8:30am (America/Los_Angeles)",
            LA_0830_AFTER_NOW,
        ),
        ("Rate limit reached for gpt-5 on tokens per min. Please try again in 1.5s.", NOW + 1.5),
        ("Too many requests. Retry-After: 30", NOW + 30),
        ("Rate limited; retry in 1h 2m 3s", NOW + 3723),
        (
            json.dumps(
                {
                    "type": "error",
                    "status": 429,
                    "error": {"type": "usage_limit_reached", "resets_at": 1773200000},
                }
            ),
            1773200000.0,
        ),
        ("You've hit your usage limit. Try again later.", None),
        ("exceeded retry limit, last status: 429 Too Many Requests, request id: r1", None),
    ],
)
def test_rate_limits_and_their_reset(message: str, resets_at: float | None) -> None:
    run = failed_turn(message)
    expected = None if resets_at is None else pytest.approx(resets_at)
    assert [r.resets_at for r in run.of(RateLimited)] == [expected]  # once, not per line
    assert run.outcomes == [(True, False)]


def test_reset_hour_names_tomorrow_when_already_past() -> None:
    run = failed_turn("You've hit your usage limit. Try again at 8:05 AM.")
    reset = datetime.fromtimestamp(run.of(RateLimited)[0].resets_at or 0)
    assert reset == datetime(2026, 3, 10, 8, 5) + timedelta(days=1)


@pytest.mark.parametrize(
    ("message", "fatal"),
    [
        ("unexpected status 401 Unauthorized: Missing bearer or basic authentication", True),
        ("Not logged in. Run `codex login` first.", True),
        ("Your refresh token has expired. Please log out and sign in again.", True),
        ('{"status": 400, "error": {"type": "invalid_request_error", "message": "bad"}}', True),
        ('{"error": {"message": "The model `gpt-9` does not exist", "code": null}}', True),
        ("error: unexpected argument '--full-auto' found", True),
        ("Quota exceeded. Check your plan and billing details.", True),
        (
            '{"status": 400, "error": {"type": "invalid_request_error", '
            '"code": "context_length_exceeded", "message": "too long"}}',
            False,
        ),
        ("stream disconnected before completion: connection reset", False),
        ("unexpected status 500 Internal Server Error", False),
        ("Aborted: required dependency `npm` is missing; cannot continue.", False),
    ],
)
def test_fatal_failures(message: str, fatal: bool) -> None:
    run = failed_turn(message)
    assert run.outcomes == [(True, fatal)]
    assert run.of(RateLimited) == []


def test_reconnecting_is_only_a_warning_even_for_429() -> None:
    line = event("error", message="Reconnecting... 1/5 (unexpected status 429 Too Many Requests)")
    assert CodexParser().feed(line) == [
        Log("warn", "Reconnecting... 1/5 (unexpected status 429 Too Many Requests)")
    ]


# -- the fake CLI -----------------------------------------------------------------------


def scenario_env(scenario: str, **extra: str) -> dict[str, str]:
    return fake_env(FAKE_SCENARIO=scenario, **extra)


def fake_argv(cwd: Path, prompt: str = PROMPT) -> list[str]:
    spec = CommandSpec((sys.executable, str(FAKE)), model="gpt-5-codex")
    return CodexProvider().build_argv(prompt, spec, str(cwd))


def run_fake(cwd: Path, scenario: str, **extra: str) -> tuple[int, Run, list[str]]:
    done = subprocess.run(
        fake_argv(cwd),
        cwd=cwd,
        env=scenario_env(scenario, **extra),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
    )
    lines = done.stdout.splitlines()
    run = parse(lines)
    assert all(run.per_line), "every fake line yields a fact"
    return done.returncode, run, lines


@contextmanager
def started_fake(cwd: Path, scenario: str, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    with running(fake_argv(cwd), cwd, scenario_env(scenario, **extra)) as proc:
        yield proc


def test_fake_success(tmp_path: Path) -> None:
    code, run, _ = run_fake(tmp_path, "success")
    assert code == 0
    assert run.tasks == {
        "item_0:0": ("Design the todo API", "completed"),
        "item_0:1": ("Implement the endpoints", "completed"),
        "item_0:2": ("Write and run the tests", "completed"),
    }
    assert [(t.key, t.status) for t in run.of(TaskUpsert)][:4] == [
        ("item_0:0", "running"),
        ("item_0:1", "pending"),
        ("item_0:2", "pending"),
        ("item_0:0", "completed"),
    ]
    assert run.of(AgentSpawned) == [
        AgentSpawned("item_4", "collab", "Write unit tests for the todo API")
    ]
    assert run.of(AgentFinished) == [AgentFinished("item_4", failed=False, result="Added 12 tests")]
    assert run.usage == (24000 - 18000, 1200, 18000, 0, None)
    assert run.outcomes == [(False, False)]
    assert run.of(RateLimited) == []
    text_lines = [line for text in run.texts for line in text.splitlines()]
    phases = [line for line in text_lines if line.startswith("LOKI_PHASE:")]
    assert phases == ["LOKI_PHASE: design", "LOKI_PHASE: implement"]
    assert "ALL TESTS PASS" not in "\n".join(run.texts)
    assert {t.tool for t in run.of(ToolUse)} == {"shell", "apply_patch", "wait", "close_agent"}
    assert (tmp_path / ".fake-prompts" / "prompt-1.txt").read_text() == PROMPT


def test_fake_promise(tmp_path: Path) -> None:
    code, run, _ = run_fake(tmp_path, "promise")
    assert code == 0
    assert "ALL TESTS PASS" in run.texts[-1].splitlines()
    assert run.of(Outcome)[0].text == run.texts[-1]


def test_fake_crash_is_retryable(tmp_path: Path) -> None:
    code, run, _ = run_fake(tmp_path, "crash")
    assert code == 1
    assert run.outcomes == [(True, False)]
    assert run.of(RateLimited) == []
    assert run.of(Usage) == []


def test_fake_ratelimit_names_the_reset(tmp_path: Path) -> None:
    before = time.time()
    code, run, lines = run_fake(tmp_path, "ratelimit", FAKE_RESET_SECONDS="2")
    after = time.time()
    assert code == 1
    assert "usage limit" in json.loads(lines[-1])["error"]["message"]
    [limit] = run.of(RateLimited)
    assert limit.resets_at is not None
    assert before + 2 <= limit.resets_at <= after + 3  # the fake rounds up to a whole second
    assert run.outcomes == [(True, False)]


def test_fake_ratelimit_days_away_names_a_date(tmp_path: Path) -> None:
    before = time.time()
    _, run, lines = run_fake(tmp_path, "ratelimit", FAKE_RESET_SECONDS="200000")
    assert f", {datetime.fromtimestamp(before + 200000).year} " in lines[-1]
    [limit] = run.of(RateLimited)
    assert limit.resets_at == pytest.approx(before + 200000, abs=5)


def test_fake_auth_is_fatal(tmp_path: Path) -> None:
    code, run, _ = run_fake(tmp_path, "auth")
    assert code == 1
    assert run.outcomes == [(True, True)]
    assert [log.level for log in run.of(Log)] == ["info", "warn", "warn", "error"]


def test_fake_ask(tmp_path: Path) -> None:
    code, run, _ = run_fake(tmp_path, "ask")
    assert code == 0
    assert "LOKI_INPUT_NEEDED: Which database should I use?" in run.texts[0].splitlines()
    assert run.outcomes == [(False, False)]
    assert run.usage == (2000, 90, 4000, 0, None)


def test_fake_flood(tmp_path: Path) -> None:
    code, run, lines = run_fake(tmp_path, "flood", FAKE_LINES="500")
    assert code == 0
    assert len(lines) == 500 + 3
    assert run.texts == [f"line {i}" for i in range(1, 501)]
    assert run.outcomes == [(False, False)]


def test_fake_replay(tmp_path: Path) -> None:
    name = "codex0.144_failed-command_file-change.jsonl"
    capture = fixtures_dir() / "codex" / name
    code, run, lines = run_fake(tmp_path, f"replay:{capture}", FAKE_EXIT_CODE="3")
    assert code == 3
    assert lines == capture.read_text(encoding="utf-8").splitlines()
    assert run.facts == parse_capture(name).facts


def test_fake_scenario_list_and_prompt_after_double_dash(tmp_path: Path) -> None:
    first, _, _ = run_fake(tmp_path, "crash,success")
    second, _, _ = run_fake(tmp_path, "crash,success")
    assert (first, second) == (1, 0)
    dashed = "--not-a-flag: the prompt itself"
    argv, env = fake_argv(tmp_path, dashed), scenario_env("ask")
    subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, timeout=30, check=True)
    prompts = sorted((tmp_path / ".fake-prompts").iterdir())
    assert [p.read_text() for p in prompts] == [PROMPT, PROMPT, dashed]


def test_fake_unknown_scenario(tmp_path: Path) -> None:
    code, _, lines = run_fake(tmp_path, "nonsense")
    assert (code, lines) == (2, [])


def test_fake_slow_spaces_its_lines(tmp_path: Path) -> None:
    with started_fake(tmp_path, "slow") as proc:
        read_lines(proc, 1)
        started = time.monotonic()
        read_lines(proc, 1)
        assert time.monotonic() - started >= 0.25


def test_fake_hang_keeps_running_after_its_first_text(tmp_path: Path) -> None:
    with started_fake(tmp_path, "hang") as proc:
        parser = CodexParser()
        facts = [f for line in read_lines(proc, 3) for f in parser.feed(line)]
        assert Output("Working on it...") in facts
        time.sleep(0.2)
        assert proc.poll() is None
        assert parser.finish() == [Log("warn", "codex output ended inside a turn (interrupted)")]


def test_fake_ignore_term_leaves_a_child_that_ignores_term(tmp_path: Path) -> None:
    child = 0
    try:
        with started_fake(tmp_path, "ignore-term") as proc:
            assert json.loads(read_lines(proc, 1)[0])["type"] == "thread.started"
            child = int((tmp_path / ".fake-child-pids").read_text().split()[0])
            assert os.getpgid(child) == proc.pid  # in the group that stop kills
            assert ignores_term(proc.pid) and ignores_term(child)
            os.kill(child, signal.SIGTERM)
            os.kill(proc.pid, signal.SIGTERM)
            time.sleep(0.2)
            assert proc.poll() is None
            assert alive(child)  # alive, not just unreaped
    finally:
        if child:
            with suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
