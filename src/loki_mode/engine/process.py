"""Provider subprocesses: each in its own process group, ended as a whole.

TERM goes to the group first; whatever is left after the grace period gets
KILL, grandchildren included. A recorded group is only signalled when its
leader's start time still matches, so a recycled pid is never hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from loki_mode.errors import EngineError

STREAM_LIMIT = 64 * 1024 * 1024  # longest line we accept from a CLI
# Never handed to a provider: the agent runs arbitrary commands, and whatever it
# prints (`env`, say) becomes an event that every reader of the log can see.
WITHHELD_ENV = frozenset({"LOKI_API_TOKEN"})


async def spawn(
    argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    source = os.environ if env is None else env
    child_env = {k: v for k, v in source.items() if k not in WITHHELD_ENV}
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=child_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            limit=STREAM_LIMIT,
        )
    except OSError as exc:
        raise EngineError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc


def started_at(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs; zombies (dead, not yet reaped) do not count."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, PermissionError):
            continue
    return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def end_group(pgid: int, grace: float) -> None:
    """TERM the group, then KILL whatever is left after `grace` seconds."""
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while group_alive(pgid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if group_alive(pgid):
        _signal_group(pgid, signal.SIGKILL)
        for _ in range(100):
            if not group_alive(pgid):
                break
            await asyncio.sleep(0.02)


def end_orphan_group(pgid: int, leader_started: float | None) -> bool:
    """After a crash: KILL a recorded group if its leader is still the process we started."""
    if leader_started is not None:
        current = started_at(pgid)
        if current is not None and abs(current - leader_started) > 0.05:
            return False  # the pid was reused by something else
    if not group_alive(pgid):
        return False
    _signal_group(pgid, signal.SIGKILL)
    return True
