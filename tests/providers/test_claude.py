"""The Claude Code adapter against real captures, hand-made lines, and its fake CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
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
from loki_mode.providers.claude import ClaudeLineParser, ClaudeProvider
from tests.conftest import alive, wait_for
from tests.providers.conftest import (
    captures,
    fake_env,
    fixtures_dir,
    ignores_term,
    read_lines,
    running,
    usage_totals,
)

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "fake_claude.py"
FACT_KINDS = get_args(Fact)
NOW = datetime(2026, 3, 2, 20, 0, tzinfo=UTC).timestamp()


def capture(name: str) -> Path:
    return fixtures_dir() / "claude" / name


def todo_key(content: str) -> str:
    """The documented key of a TodoWrite item: a hash of its text, so re-sends keep it."""
    return "todo:" + hashlib.sha1(content.encode()).hexdigest()[:12]


@dataclass
class Run:
    facts: list[Fact]

    def of(self, kind: type[Any]) -> list[Any]:
        return [f for f in self.facts if isinstance(f, kind)]

    @property
    def tasks(self) -> dict[str, tuple[str, str]]:
        return {t.key: (t.title, t.status) for t in self.of(TaskUpsert)}

    def history(self, key: str) -> list[str]:
        return [t.status for t in self.of(TaskUpsert) if t.key == key]

    @property
    def spawned(self) -> list[tuple[str, str, str]]:
        return [(a.agent_id, a.agent_type, a.description) for a in self.of(AgentSpawned)]

    @property
    def finished(self) -> dict[str, tuple[bool, str]]:
        return {a.agent_id: (a.failed, a.result) for a in self.of(AgentFinished)}

    @property
    def usage(self) -> tuple[int, int, int, int, float | None]:
        return usage_totals(self.facts)

    @property
    def outcomes(self) -> list[tuple[bool, str, bool]]:
        return [(o.is_error, o.subtype, o.fatal) for o in self.of(Outcome)]

    def texts(self, agent_id: str | None = None) -> list[str]:
        return [o.text for o in self.of(Output) if o.agent_id == agent_id]

    def tools(self, agent_id: str | None = None) -> list[tuple[str, str]]:
        return [(t.tool, t.target) for t in self.of(ToolUse) if t.agent_id == agent_id]


def parse(lines: Iterable[str], clock: Callable[[], float] = lambda: NOW) -> Run:
    parser = ClaudeLineParser(clock=clock)
    facts = [f for line in lines for f in parser.feed(line)]
    return Run(facts + parser.finish())


def parse_file(name: str) -> Run:
    return parse(capture(name).read_text().splitlines())


def line(**fields: Any) -> str:
    return json.dumps(fields)


# --- every real capture -------------------------------------------------------------------

CAPTURES = captures("claude")


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_every_line_of_every_capture_yields_known_facts(path: Path) -> None:
    parser = ClaudeLineParser(clock=lambda: NOW)
    lines = path.read_text().splitlines()
    assert lines
    for number, text in enumerate(lines, 1):
        facts = parser.feed(text)
        assert facts, f"line {number} yielded nothing"
        assert all(isinstance(f, FACT_KINDS) for f in facts), facts
        assert not any(isinstance(f, Log) and "could not read" in f.message for f in facts)
    assert all(isinstance(f, FACT_KINDS) for f in parser.finish())


@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_key_order_does_not_matter(path: Path) -> None:
    def reverse(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reverse(v) for k, v in reversed(value.items())}
        return [reverse(v) for v in value] if isinstance(value, list) else value

    lines = path.read_text().splitlines()
    flipped = [json.dumps(reverse(json.loads(text))) for text in lines]
    assert parse(flipped).facts == parse(lines).facts


def test_capture_task_subagents_todowrite_websearch() -> None:
    run = parse_file("cc2.0.25_task-subagents_todowrite_websearch_success.jsonl")
    explore, locator = "toolu_014ZNMnsnumfmXfL43RcsT8z", "toolu_01Xnzv79g9egnUYoGxEL9fir"
    first, second = "Run diagnostic tool tests", "Verify all tools are working"
    assert run.tasks == {
        todo_key(first): (first, "completed"),
        todo_key(second): (second, "completed"),
    }
    assert run.history(todo_key(first)) == ["running", "completed"]
    assert run.history(todo_key(second)) == ["pending", "completed"]
    assert run.spawned == [
        (explore, "Explore", "Explore codebase structure"),
        (locator, "codebase-locator", "Find test files"),
    ]
    assert [a.agent_id for a in run.of(AgentFinished)] == [locator, explore]
    assert not any(failed for failed, _ in run.finished.values())
    assert run.finished[locator][1].startswith("## File Locations for Test Files")
    # Sub-agent tool calls carry the spawning tool_use id.
    assert (len(run.tools()), len(run.tools(explore)), len(run.tools(locator))) == (8, 7, 6)
    assert ("WebSearch", "golang testing best practices 2025") in run.tools()
    assert ("Bash", "ls -la /home/user/project") in run.tools(explore)
    # modelUsage counts the haiku sub-agent too; `usage` alone would miss it.
    assert run.usage[:4] == (7460 + 124, 1331 + 2373, 18159 + 67600, 14048 + 29631)
    assert run.usage[4] == pytest.approx(0.21085415)
    assert run.outcomes == [(False, "success", False)]
    assert not run.of(RateLimited)


def test_capture_todowrite_46_turns() -> None:
    run = parse_file("cc2.0.25_todowrite_bash_write_46turns_success.jsonl")
    titles = [
        "Explore the repository structure and existing files",
        "Examine the stream-json log file to understand the format",
        "Initialize Go module and project structure",
        "Implement streaming JSON parser",
        "Create beautiful terminal output formatter",
        "Add stdin/stdout support",
        "Test the parser with the log file",
    ]
    assert run.tasks == {todo_key(t): (t, "completed") for t in titles}
    assert run.history(todo_key(titles[2])) == ["pending", "running", "completed"]
    assert run.history(todo_key(titles[6])) == ["pending", "running", "completed"]
    assert run.of(TaskUpsert)[0].description == "Exploring repository structure"
    tools = [name for name, _ in run.tools()]
    counts = {n: tools.count(n) for n in ("TodoWrite", "Bash", "Glob", "Read", "Write")}
    assert counts == {"TodoWrite": 5, "Bash": 9, "Glob": 2, "Read": 2, "Write": 2}
    assert ("Bash", "go mod init github.com/yourusername/claude-clean-output") in run.tools()
    assert not run.spawned
    assert any(f.level == "warn" and "File does not exist" in f.message for f in run.of(Log))
    assert run.usage[:4] == (479 + 54, 122 + 6430, 218228, 34948)
    assert run.usage[4] == pytest.approx(0.2942244)
    assert run.outcomes == [(False, "success", False)]


def test_capture_minimal_text_only() -> None:
    run = parse_file("cc2.0.28_minimal-math_text-only.jsonl")
    assert run.texts() == ["4"]
    assert run.usage[:4] == (3, 5, 0, 21588)
    assert run.usage[4] == pytest.approx(0.081039)
    assert run.outcomes == [(False, "success", False)]
    assert run.of(Outcome)[0].text == "4"
    assert not run.tasks and not run.spawned and not run.of(RateLimited)


def test_capture_invalid_model_is_fatal() -> None:
    run = parse_file("cc2.1.140_invalid-model_api-error-404.jsonl")
    assert run.outcomes == [(True, "success", True)]
    assert "model not found" in run.of(Outcome)[0].text
    assert run.usage == (0, 0, 0, 0, 0.0)
    assert not run.texts() and not run.of(RateLimited)


def test_capture_auth_failure_is_fatal() -> None:
    run = parse_file("cc2.1.141_auth-failure_not-logged-in.jsonl")
    assert run.outcomes == [(True, "success", True)]
    assert run.of(Outcome)[0].text == "Not logged in · Please run /login"
    # The CLI's own error message is a log line, not the model talking.
    assert not run.texts()
    assert any(f.level == "error" and "authentication_failed" in f.message for f in run.of(Log))
    assert run.usage == (0, 0, 0, 0, 0.0)
    assert not run.of(RateLimited)


def test_capture_background_agent_two_results() -> None:
    run = parse_file("cc2.1.198_background-agent_partial-messages_hooks_2results.jsonl")
    agent = "toolu_0117DAjjgkNKvJSrHGZXVLtS"
    assert run.spawned == [(agent, "general-purpose", "Ack test")]
    # The "Async agent launched" tool_result does not end it; task_notification does.
    assert run.finished == {agent: (False, "ack")}
    assert run.texts() == ["waiting", "done"]
    assert run.texts(agent) == ["ack"]
    # Both results repeat the process-wide modelUsage: counted once, sub-agent included.
    assert run.usage[:4] == (3717 + 2 + 3299 + 3948, 139 + 5 + 3 + 4, 85321, 21841)
    assert run.usage[4] == pytest.approx(0.1662723)
    assert run.outcomes == [(False, "success", False), (False, "success", False)]
    assert not run.of(RateLimited)  # status "allowed" (only the overage was rejected)
    assert sum(isinstance(f, Ignored) and "stream_event" in f.rule for f in run.facts) == 26


def test_capture_two_background_agents_task_progress() -> None:
    run = parse_file("cc2.1.198_two-background-agents_task-progress.jsonl")
    agent = "toolu_01B1AN52bDdxfyrLDXQrrXJx"
    assert run.spawned == [(agent, "general-purpose", "Sleep 45 then reply ok")]
    summary = "The task is now running in the background (ID: bzggpsjub). I'll wait for it"
    assert run.finished == {agent: (False, summary + " to complete.\n\nok")}
    assert run.tools(agent) == [("Bash", "sleep 45"), ("Bash", "sleep 45")]
    assert run.tools() == [("Agent", "Sleep 45 then reply ok")]
    assert any("bzggpsjub stopped" in f.message for f in run.of(Log))  # a bash task, no agent
    assert run.usage[:4] == (13889, 541, 113357, 29544)
    assert run.usage[4] == pytest.approx(0.2207106)
    assert run.outcomes == [(False, "success", False), (False, "success", False)]
    assert not run.of(RateLimited) and not run.tasks


def test_capture_local_command_result_with_late_type_key() -> None:
    run = parse_file("cc2.1.285_slash-compact-empty_local-command_synthetic-model.jsonl")
    assert run.outcomes == [(False, "success", False)]
    assert run.of(Outcome)[0].text == ""
    assert [f.message for f in run.of(Log) if f.level == "warn"] == [
        "/compact failed: Error: No messages to compact"
    ]
    assert not run.texts()
    assert run.usage == (0, 0, 0, 0, 0.0)


def test_capture_synthetic_two_sessions_rate_limit() -> None:
    run = parse_file("SYNTHETIC_two-sessions_error-during-execution_rate-limit.jsonl")
    assert run.texts() == [
        "Sure - I-ll list the directory contents.",
        "I see README.md, pyproject.toml, and src/.",
    ]
    assert run.tools() == [("Bash", "ls"), ("Write", "notes.md")]
    assert run.outcomes == [(False, "success", False), (True, "error_during_execution", False)]
    assert run.of(Outcome)[1].text == "Permission denied: cannot write to /root/secret.txt"
    # No costUSD in modelUsage: each session's result usage and total_cost_usd count.
    assert run.usage[:4] == (130 + 40, 76 + 12, 0, 0)
    assert run.usage[4] == pytest.approx(0.013345)
    # No status, but every counter is at zero: rejected, resetting at requests_reset.
    limits = run.of(RateLimited)
    assert [f.resets_at for f in limits] == [datetime(2026, 1, 1, 0, 1, tzinfo=UTC).timestamp()]
    assert not run.tasks and not run.spawned


# --- command line -------------------------------------------------------------------------


def test_argv_has_the_print_mode_flags() -> None:
    argv = ClaudeProvider().build_argv("do it", CommandSpec(executable=("claude",)), "/tmp/x")
    assert argv == [
        "claude",
        "-p",
        "do it",
        "--output-format",
        "stream-json",
        "--verbose",
        "--dangerously-skip-permissions",
    ]


def test_argv_model_extra_args_and_custom_executable() -> None:
    spec = CommandSpec(
        executable=("python3", "fake.py", "--scenario", "crash"),
        model="claude-opus-4-1",
        extra_args=("--max-turns", "5"),
    )
    argv = ClaudeProvider().build_argv("-starts with a dash", spec, "/tmp/x")
    assert argv[:6] == ["python3", "fake.py", "--scenario", "crash", "-p", "-starts with a dash"]
    assert argv[argv.index("--model") + 1] == "claude-opus-4-1"
    assert argv[-2:] == ["--max-turns", "5"]


def test_provider_identity_and_fresh_parsers() -> None:
    provider = ClaudeProvider()
    assert (provider.name, provider.default_executable, provider.env_var) == (
        "claude",
        "claude",
        "LOKI_CLAUDE_CMD",
    )
    assert provider.parser() is not provider.parser()


# --- hand-made lines ----------------------------------------------------------------------


def test_odd_lines_never_raise() -> None:
    run = parse(
        [
            "Warning: something on stdout",
            "4",
            "[1, 2]",
            "",
            "{not json",
            line(type="mystery", payload=1),
            line(type="system", subtype="brand_new"),
            line(type="assistant", message="text"),
            line(type="assistant", message={"content": 5, "usage": []}),
            line(type="user", message={"content": [{"type": "tool_result", "content": 3}]}),
            line(type="result", is_error="yes", usage=None, modelUsage=[1], errors=7),
            line(type="rate_limit_event", rate_limit_info="nope"),
        ]
    )
    assert run.texts()[:3] == ["Warning: something on stdout", "4", "[1, 2]"]
    rules = [f.rule for f in run.of(Ignored)]
    assert "claude.unknown_type" in rules and "claude.system.unknown_subtype" in rules
    assert not any(isinstance(f, Log) and "could not read" in f.message for f in run.facts)


def test_todowrite_keys_survive_reordering_and_duplicates() -> None:
    def todo_write(*items: tuple[str, str]) -> str:
        todos = [{"content": c, "activeForm": c, "status": s} for c, s in items]
        block = {"type": "tool_use", "id": "t", "name": "TodoWrite", "input": {"todos": todos}}
        return line(type="assistant", message={"content": [block]})

    run = parse(
        [
            todo_write(("Write code", "in_progress"), ("Test", "pending"), ("Test", "pending")),
            todo_write(("Test", "pending"), ("Write code", "in_progress"), ("Test", "pending")),
            todo_write(("Write code", "completed"), ("Test", "in_progress"), ("Test", "pending")),
        ]
    )
    assert run.tasks == {
        todo_key("Write code"): ("Write code", "completed"),
        todo_key("Test"): ("Test", "running"),
        todo_key("Test") + "~2": ("Test", "pending"),
    }
    assert len(run.of(TaskUpsert)) == 5  # the unchanged re-send adds nothing


def test_task_create_and_update_use_the_cli_ids() -> None:
    def use(tool_id: str, name: str, **args: Any) -> str:
        block = {"type": "tool_use", "id": tool_id, "name": name, "input": args}
        return line(type="assistant", message={"content": [block]}, parent_tool_use_id=None)

    def created(tool_id: str, number: str, subject: str) -> str:
        block = {
            "tool_use_id": tool_id,
            "type": "tool_result",
            "content": f"Task #{number} created successfully: {subject}",
        }
        extra = {"task": {"id": number, "subject": subject}}
        return line(type="user", message={"content": [block]}, tool_use_result=extra)

    run = parse(
        [
            use("c1", "TaskCreate", subject="Read the PRD", description="All of it"),
            use("c2", "TaskCreate", subject="Build the API", description="REST"),
            created("c1", "1", "Read the PRD"),
            created("c2", "2", "Build the API"),
            use("u1", "TaskUpdate", taskId="1", status="in_progress"),
            use("u2", "TaskUpdate", taskId="1", status="completed"),
            use("u3", "TaskUpdate", taskId="2", status="deleted"),
        ]
    )
    assert run.tasks == {
        "task:1": ("Read the PRD", "completed"),
        "task:2": ("Build the API", "skipped"),
    }
    assert run.history("task:1") == ["pending", "running", "completed"]
    assert run.of(TaskUpsert)[0].description == "All of it"
    assert ("TaskUpdate", "#1 completed") in run.tools()


def test_failed_sub_agent_and_text_inside_it() -> None:
    task = {"type": "tool_use", "id": "toolu_T", "name": "Task", "input": {"prompt": "go"}}
    result = {"type": "tool_result", "tool_use_id": "toolu_T", "is_error": True, "content": "boom"}
    run = parse(
        [
            line(type="assistant", message={"content": [task]}),
            line(
                type="assistant",
                message={"content": [{"type": "text", "text": "inside"}]},
                parent_tool_use_id="toolu_T",
            ),
            line(type="user", message={"content": [result]}),
        ]
    )
    assert run.spawned == [("toolu_T", "general-purpose", "")]
    assert run.finished == {"toolu_T": (True, "boom")}
    assert run.texts("toolu_T") == ["inside"]


def test_turns_without_a_result_are_billed_once_at_finish() -> None:
    usage = {"input_tokens": 10, "output_tokens": 3, "cache_read_input_tokens": 100}
    message = {"id": "msg_1", "model": "m", "content": [{"type": "text", "text": "a"}]}
    split = [line(type="assistant", message={**message, "usage": usage}) for _ in range(3)]
    run = parse(split)
    assert run.usage == (10, 3, 100, 0, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "You've hit your session limit · resets 8:30am (America/Los_Angeles)",
            datetime(2026, 3, 3, 8, 30, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp(),
        ),
        (
            "Session limit reached · resets 09:05 (UTC)",
            datetime(2026, 3, 3, 9, 5, tzinfo=UTC).timestamp(),
        ),
        ("Session limit reached · resets 08:45pm (UTC)", NOW + 45 * 60),
        (
            "You've hit your weekly limit · resets Oct 6, 1pm (Europe/Berlin)",
            datetime(2026, 10, 6, 13, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp(),
        ),
        ("Rate limited, try again in 1h 2m 3s", NOW + 3723),
        ("429 Too Many Requests; Retry-After: 120", NOW + 120),
        ("Claude AI usage limit reached|1749924000", 1749924000.0),
        ("Rate limit reached, resets at 2026-03-02T21:15:00Z", NOW + 4500),
        ("Usage limit reached", None),
    ],
)
def test_reset_time_from_limit_text(text: str, expected: float | None) -> None:
    result = line(type="result", subtype="success", is_error=True, result=text)
    run = parse([result])
    assert [f.resets_at for f in run.of(RateLimited)] == [expected]
    assert run.outcomes == [(True, "success", False)]


def test_rate_limit_event_statuses() -> None:
    def event(status: str) -> str:
        info = {"status": status, "resetsAt": 1783045200, "rateLimitType": "five_hour"}
        return line(type="rate_limit_event", rate_limit_info=info)

    run = parse([event("allowed"), event("allowed_warning")])
    assert not run.of(RateLimited)
    assert [f.level for f in run.of(Log)] == ["debug", "warn"]
    rejected = parse(
        [event("rejected"), line(type="result", is_error=True, result="Usage limit reached")]
    )
    assert [f.resets_at for f in rejected.of(RateLimited)] == [1783045200.0, 1783045200.0]


def test_old_cli_plain_limit_line() -> None:
    run = parse(["Claude AI usage limit reached|1749924000"])
    assert run.texts() == ["Claude AI usage limit reached|1749924000"]
    assert [f.resets_at for f in run.of(RateLimited)] == [1749924000.0]


@pytest.mark.parametrize(
    ("result", "fatal"),
    [
        ({"result": "Invalid API key · Please run /login"}, True),
        (
            {"result": 'API Error: 400 {"type":"invalid_request_error"}', "api_error_status": 400},
            True,
        ),
        ({"result": "error: unknown option '--bogus'"}, True),
        ({"result": "API Error: 529 Overloaded", "api_error_status": 529}, False),
        ({"subtype": "error_max_turns", "result": ""}, False),
        ({"result": "Context limit reached · /compact or /clear to continue"}, False),
    ],
)
def test_fatal_classification(result: dict[str, Any], fatal: bool) -> None:
    run = parse([line(type="result", is_error=True, **{"subtype": "success", **result})])
    assert [o.fatal for o in run.of(Outcome)] == [fatal]
    assert not run.of(RateLimited)


# --- the fake CLI -------------------------------------------------------------------------

PROMPT = "Build the todo service.\nCOMPLETION PROMISE: ALL TESTS PASS\nPrint it when true."


def fake_argv(scenario: str, cwd: Path, model: str | None = None) -> list[str]:
    spec = CommandSpec(executable=(sys.executable, str(FAKE), "--scenario", scenario), model=model)
    return ClaudeProvider().build_argv(PROMPT, spec, str(cwd))


def run_fake(
    scenario: str, cwd: Path, model: str | None = None, **env: str
) -> tuple[subprocess.CompletedProcess[str], Run]:
    proc = subprocess.run(
        fake_argv(scenario, cwd, model),
        cwd=cwd,
        env=fake_env(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc, parse(proc.stdout.splitlines(), clock=time.time)


def check_success_stream(run: Run) -> None:
    titles = [
        "Design the storage layer",
        "Implement the API endpoints",
        "Write the integration tests",
    ]
    assert run.tasks == {todo_key(t): (t, "completed") for t in titles}
    assert run.history(todo_key(titles[0])) == ["running", "completed"]
    assert run.history(todo_key(titles[2])) == ["pending", "running", "completed"]
    [(agent, kind, description)] = run.spawned
    assert (kind, description) == ("Explore", "Survey the codebase")
    assert run.finished == {agent: (False, "Three modules: app, store, api.")}
    assert run.tools(agent) == [("Glob", "**/*.py")]
    assert run.texts(agent) == ["Three modules: app, store, api."]
    assert ("Bash", "pytest -q") in run.tools()
    assert any(name == "Read" and target.endswith("/PRD.md") for name, target in run.tools())
    lines = [text for out in run.texts() for text in out.splitlines()]
    assert lines.index("LOKI_PHASE: design") < lines.index("LOKI_PHASE: implement")
    assert run.usage[:4] == (1500, 900, 5000, 4000)
    assert run.usage[4] == pytest.approx(0.06)
    assert run.outcomes == [(False, "success", False)]
    assert not run.of(RateLimited)
    assert not [f for f in run.of(Ignored) if f.rule == "claude.unknown_type"]


def test_fake_success(tmp_path: Path) -> None:
    proc, run = run_fake("success", tmp_path, model="claude-opus-4-1")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / ".fake-prompts" / "prompt-1.txt").read_text() == PROMPT
    check_success_stream(run)
    assert "claude-opus-4-1" in {u.model for u in run.of(Usage)}
    assert "ALL TESTS PASS" not in proc.stdout


def test_fake_promise(tmp_path: Path) -> None:
    proc, run = run_fake("promise", tmp_path)
    assert proc.returncode == 0, proc.stderr
    check_success_stream(run)
    assert run.texts()[-1].splitlines()[-1] == "ALL TESTS PASS"
    assert run.of(Outcome)[0].text.endswith("ALL TESTS PASS")


def test_fake_crash_is_retryable(tmp_path: Path) -> None:
    proc, run = run_fake("crash", tmp_path)
    assert proc.returncode == 1
    assert run.outcomes == [(True, "success", False)]
    assert run.of(Outcome)[0].text.startswith("API Error: 500")
    assert not run.of(RateLimited)
    assert run.usage[4] == pytest.approx(0.004)


def test_fake_ratelimit_names_its_reset(tmp_path: Path) -> None:
    start = time.time()
    proc, run = run_fake("ratelimit", tmp_path, FAKE_RESET_SECONDS="5")
    assert proc.returncode == 1
    resets = {f.resets_at for f in run.of(RateLimited)}
    assert len(run.of(RateLimited)) == 3  # the event, the CLI's message and the result
    [reset] = resets
    assert reset is not None and start + 5 <= reset <= time.time() + 6
    assert run.outcomes == [(True, "success", False)]


def test_fake_auth_is_fatal(tmp_path: Path) -> None:
    proc, run = run_fake("auth", tmp_path)
    assert proc.returncode == 1
    assert run.outcomes == [(True, "success", True)]
    assert not run.of(RateLimited)


def test_fake_slow_honours_line_delay(tmp_path: Path) -> None:
    start = time.monotonic()
    proc, run = run_fake("slow", tmp_path, FAKE_LINE_DELAY="0.01")
    assert proc.returncode == 0
    check_success_stream(run)
    assert time.monotonic() - start >= 0.01 * len(proc.stdout.splitlines())


def test_fake_slow_defaults_to_a_third_of_a_second(tmp_path: Path) -> None:
    start = time.monotonic()
    with running(fake_argv("slow", tmp_path), tmp_path, fake_env()) as proc:
        assert read_lines(proc, 1)
        assert time.monotonic() - start >= 0.3


def test_fake_ask(tmp_path: Path) -> None:
    proc, run = run_fake("ask", tmp_path)
    assert proc.returncode == 0
    lines = [text for out in run.texts() for text in out.splitlines()]
    assert "LOKI_INPUT_NEEDED: Which database should I use?" in lines
    assert run.outcomes == [(False, "success", False)]


def test_fake_flood(tmp_path: Path) -> None:
    proc, run = run_fake("flood", tmp_path)
    assert proc.returncode == 0
    assert run.texts() == [f"line {i}" for i in range(2000)]
    assert run.outcomes == [(False, "success", False)]
    _, few = run_fake("flood", tmp_path, FAKE_LINES="7")
    assert len(few.texts()) == 7


def test_fake_replay_and_exit_code(tmp_path: Path) -> None:
    source = capture("cc2.0.28_minimal-math_text-only.jsonl")
    proc, run = run_fake(f"replay:{source}", tmp_path, FAKE_EXIT_CODE="3")
    assert proc.returncode == 3
    assert proc.stdout == source.read_text()
    assert run.texts() == ["4"]


def test_fake_scenario_list_and_unknown(tmp_path: Path) -> None:
    first, _ = run_fake("crash,success", tmp_path)
    second, run = run_fake("crash,success", tmp_path)
    assert (first.returncode, second.returncode) == (1, 0)
    assert run.outcomes == [(False, "success", False)]
    assert len(list((tmp_path / ".fake-prompts").iterdir())) == 2
    assert run_fake("nonsense", tmp_path)[0].returncode == 2


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_fake_ignore_term_leaves_a_child_that_ignores_term(tmp_path: Path) -> None:
    child = 0
    with running(fake_argv("ignore-term", tmp_path), tmp_path, fake_env()) as proc:
        try:
            [first] = read_lines(proc, 1)
            assert isinstance(parse([first]).facts[0], Log)
            child = int((tmp_path / ".fake-child-pids").read_text().split()[0])
            assert wait_for(lambda: ignores_term(child), timeout=5)
            os.kill(child, signal.SIGTERM)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            assert alive(child) and proc.poll() is None
        finally:
            if child and alive(child):
                os.kill(child, signal.SIGKILL)
    assert wait_for(lambda: not alive(child), timeout=5)


def test_fake_hang_keeps_running_after_its_first_lines(tmp_path: Path) -> None:
    with running(fake_argv("hang", tmp_path), tmp_path, fake_env()) as proc:
        run = parse(read_lines(proc, 2))
        assert run.texts() == ["Reading the project files."]
        assert run.usage[:2] == (4, 12)  # billed at finish: no result line came
        time.sleep(0.2)
        assert proc.poll() is None
