"""What the provider tests share: the real captures, run totals, and watching a fake CLI live.

Plain functions rather than fixtures: the capture lists parametrize tests at import time.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from loki_mode.providers.base import Fact, Usage
from tests.conftest import FIXTURES


def fixtures_dir() -> Path:
    """The real captures, one folder per provider: $LOKI_FIXTURES_DIR, else tests/fixtures/real."""
    override = os.environ.get("LOKI_FIXTURES_DIR")
    return Path(override) if override else FIXTURES


def captures(provider: str) -> list[Path]:
    """Every capture of `provider`, sorted by name; a missing folder fails loudly."""
    return sorted(p for p in (fixtures_dir() / provider).iterdir() if p.is_file())


def usage_totals(facts: Sequence[Fact]) -> tuple[int, int, int, int, float | None]:
    """Input, output, cache read, cache creation and cost of a run; cost None when none came."""
    used = [f for f in facts if isinstance(f, Usage)]
    costs = [u.cost_usd for u in used if u.cost_usd is not None]
    return (
        sum(u.input_tokens for u in used),
        sum(u.output_tokens for u in used),
        sum(u.cache_read_tokens for u in used),
        sum(u.cache_creation_tokens for u in used),
        sum(costs) if costs else None,
    )


def fake_env(**extra: str) -> dict[str, str]:
    """This process's environment without any FAKE_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_")}
    return {**env, **extra}


@contextmanager
def running(argv: list[str], cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A fake CLI in its own process group with unbuffered stdout; the group dies afterwards."""
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        bufsize=0,
        start_new_session=True,
    ) as proc:
        try:
            yield proc
        finally:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def read_lines(proc: subprocess.Popen[bytes], count: int, timeout: float = 10.0) -> list[str]:
    """The next `count` lines of a live process, failing instead of blocking past `timeout`."""
    assert proc.stdout is not None
    fd, buffer, lines = proc.stdout.fileno(), b"", list[str]()
    deadline = time.monotonic() + timeout
    while len(lines) < count:
        if b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            lines.append(line.decode())
            continue
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(lines)} of {count} lines within {timeout}s"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            assert chunk, f"EOF after {len(lines)} lines"
            buffer += chunk
    return lines


def proc_status(pid: int) -> dict[str, str]:
    """Linux's view of a process (`State`, `SigIgn`, ...); {} once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:
        return {}
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def ignores_term(pid: int) -> bool:
    mask = proc_status(pid).get("SigIgn")
    return mask is not None and bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))
