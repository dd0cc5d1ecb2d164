"""Schemathesis against a real server: every operation of the served /openapi.yaml, every check.

The schema is loaded from the running server, so what is tested is what clients get.
Generated requests hit a real `loki serve` whose providers are the fake CLIs (one
iteration per session, so real starts finish quickly); dry runs need no provider.
Only the SSE stream is left out of generation (it never ends); tests/api/test_events.py
covers it.

Schemathesis's own engine runs (the one behind `schemathesis run`): the examples,
coverage, fuzzing and stateful phases, positive and negative data, all checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.engine import Status, events

from tests.conftest import LiveServer, fake_env

pytestmark = pytest.mark.e2e

ID_ONLY = (
    "getSession",
    "deleteSession",
    "stopSession",
    "pauseSession",
    "resumeSession",
    "listAgents",
    "getTask",
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    project = tmp_path_factory.mktemp("contract") / "project"
    (project / "docs").mkdir(parents=True)
    (project / "PRD.md").write_text("# Todo service\nStore todos in SQLite.\n")
    server = LiveServer(project, fake_env(LOKI_MAX_ITERATIONS="1")).start()
    try:
        yield server
    finally:
        server.stop()


def _config(live: LiveServer) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "base-url": live.url,
            "seed": 20260101,
            "workers": 1,
            "request-timeout": 10,
            "generation": {"max-examples": 50, "database": "none"},
            "phases": {"stateful": {"max-steps": 8}},
            "checks": {"enabled": True},
            "operations": [
                {
                    # Their only input is a string id in the path: every value is valid, so
                    # negative generation would only spin.
                    "include-operation-id": list(ID_ONLY),
                    "generation": {"mode": "positive"},
                }
            ],
        }
    )


@dataclass
class Run:
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    tested: set[str] = field(default_factory=set)  # operation labels
    checks: set[str] = field(default_factory=set)  # names of the checks that ran
    phases: dict[str, str] = field(default_factory=dict)  # phase -> status


def _collect(stream: Any) -> Run:
    """Failures, errors, coverage and phases, from the engine's events."""
    run = Run()
    for event in stream:
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            recorder = event.recorder
            for case_id, checks in recorder.checks.items():
                case = recorder.cases[case_id].value
                run.tested.add(case.operation.label)
                for check in checks:
                    run.checks.add(check.name)
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        interaction = recorder.interactions.get(case_id)
                        response = interaction.response if interaction else None
                        run.failures.append(
                            f"{check.name}: {case.operation.label} -> "
                            f"{response.status_code if response else '?'}\n"
                            f"{check.failure_info.failure}\n{check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.PhaseFinished):
            run.phases[event.phase.name.value] = event.status.value
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            run.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            run.failures.extend(str(f) for f in event.failures)
    return run


def _point_at_real_files(schema: Any, live: LiveServer) -> None:
    """Well-formed starts name a PRD and a project that exist.

    `prdPath` and `projectDir` must name a file and a folder on the server; no schema can
    say which, so a positive case keeps its shape but gets real ones (a negative case is
    left alone). Everything else the generator chose is sent as generated.
    """
    prds = ("PRD.md", "docs/SPEC.md", str(live.project / "PRD.md"))
    (live.project / "docs" / "SPEC.md").write_text("# Spec\n")

    @schema.hook
    def map_case(context: Any, case: schemathesis.Case) -> schemathesis.Case:
        body = case.body
        if (
            case.operation.label == "POST /api/sessions"
            and case.meta is not None
            and case.meta.generation.mode.is_positive
            and isinstance(body, dict)
        ):
            if isinstance(body.get("prdPath"), str):
                body["prdPath"] = prds[len(body["prdPath"]) % len(prds)]
            if isinstance(body.get("projectDir"), str):
                body["projectDir"] = str(live.project)
        return case


def test_served_contract_holds_under_every_check(live: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.yaml", config=_config(live))
    schema = schema.exclude(path="/api/events")
    _point_at_real_files(schema, live)
    run = _collect(schemathesis.engine.from_schema(schema).execute())
    assert not run.errors, "\n\n".join(run.errors)
    assert not run.failures, "\n\n".join(dict.fromkeys(run.failures))
    # Nothing was quietly left out: every operation, every phase, the checks that matter.
    assert run.tested == {op.ok().label for op in schema.get_all_operations()}
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        assert run.phases.get(phase) == "success", run.phases
    assert {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "positive_data_acceptance",
        "use_after_free",
        "ensure_resource_availability",
        "unsupported_method",
        "allow_header_conformance",
    } <= run.checks


def test_every_check_is_enabled(live: LiveServer) -> None:
    load_all_checks()
    checks = _config(live).projects.get_default().checks
    names = [check.__name__ for check in CHECKS.get_all()]
    assert names and all(checks.get_by_name(name=name).enabled for name in names)
