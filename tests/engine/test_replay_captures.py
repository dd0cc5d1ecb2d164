"""Every real capture replayed as a provider's output through a real session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loki_mode.providers import PROVIDERS
from loki_mode.providers.base import AgentSpawned, Outcome, TaskUpsert, Usage
from tests.conftest import FIXTURES, LiveServer, fake_env
from tests.engine.helpers import agents, events, scenario, start, tasks, wait_status

pytestmark = pytest.mark.e2e
CAPTURES = sorted(FIXTURES.glob("*/*.jsonl"))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("replays")
    home = root / "home"
    home.mkdir()
    server = LiveServer(home, fake_env(LOKI_ALLOWED_ROOTS=str(root))).start()
    try:
        yield server
    finally:
        server.stop()


def expected(provider: str, capture: Path) -> dict[str, object]:
    """What the parser makes of the capture: the session must show exactly that."""
    parser = PROVIDERS[provider].parser()
    facts = [f for line in capture.read_text().splitlines() for f in parser.feed(line)]
    facts += parser.finish()
    outcomes = [f for f in facts if isinstance(f, Outcome)]
    return {
        "plan": len({f.key for f in facts if isinstance(f, TaskUpsert)}),
        "subagents": len({f.agent_id for f in facts if isinstance(f, AgentSpawned)}),
        "input": sum(f.input_tokens for f in facts if isinstance(f, Usage)),
        "output": sum(f.output_tokens for f in facts if isinstance(f, Usage)),
        "fatal": bool(outcomes) and outcomes[-1].fatal and outcomes[-1].is_error,
    }


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_capture_replays_through_a_session(live: LiveServer, capture: Path) -> None:
    provider = capture.parent.name
    folder = live.project.parent / f"{provider}-{capture.stem}"
    folder.mkdir()
    scenario(folder, f"replay:{capture}")
    want = expected(provider, capture)
    with httpx.Client(base_url=live.url, timeout=10) as client:
        sid = start(client, provider=provider, projectDir=str(folder), options={"maxIterations": 1})
        s = wait_status(client, sid)["session"]
        assert s["status"] == ("failed" if want["fatal"] else "completed"), s["reason"]
        assert s["inputTokens"] == want["input"] and s["outputTokens"] == want["output"]
        plan = [t for t in tasks(client, sid) if not t["title"].startswith("Iteration")]
        assert len(plan) == want["plan"]
        subs = [a for a in agents(client, sid) if not a["id"].startswith("main-")]
        assert len(subs) == want["subagents"]
        assert all(a["status"] != "active" for a in agents(client, sid))
        types = [e["type"] for e in events(client, sid)]
        assert types[0] == "session:started" and types[-1].startswith("session:")
