"""The SSE load generator: `python -m bench.load MODE ...`, always in its own process.

It talks to the orchestrator over stdio: one JSON object per stdout line (first
`{"ready": true}` once every subscriber is registered, last the result), and for
`idle` a line on stdin (or its end) to disconnect. Every wait is bounded.

Modes:
  fanout          N subscribers on agent:output; starts a session whose provider floods
                  L lines; times first line -> last event on every subscriber, and checks
                  that each saw `line 0` .. `line L-1` in order with rising ids.
  idle            N subscribers that stay connected until told to go; with --stall they
                  stop reading after the headers (a tiny receive buffer, a full window).
  latency-start   POST a dry-run session, time until its session:started arrives; repeat.
  latency-line    start a session on bench/fake_provider.py (timed) and compare each
                  line's own print time with its arrival.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench import sse
from bench.harness import ROOT, raise_nofile

LINE = re.compile(rb'id: (\d+)\nevent: agent:output\ndata: [^\n]*?"text":"line (\d+)"')
OUTPUT = b"event: agent:output\n"
DATA = re.compile(rb"^data: (.*)$", re.MULTILINE)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def start_session(port: int, options: dict[str, Any]) -> str:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        r = await client.post("/api/sessions", json={"options": options})
        if r.status_code != 201:
            raise RuntimeError(f"POST /api/sessions: {r.status_code} {r.text[:300]}")
        return str(r.json()["sessionId"])


# --- fanout ----------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    count: int = 0
    frames: int = 0  # agent:output frames of any text
    disorder: int = 0  # lines not where they belong (a loss shifts every later line)
    backwards: int = 0  # ids that did not rise
    last_id: int = 0
    first_at: float = 0.0
    last_at: float = 0.0


async def _drain(stream: sse.Stream, tally: Tally, expected: int) -> None:
    while tally.count < expected:
        block = await stream.frames()
        if block is None:
            return
        now = time.monotonic()
        tally.frames += block.count(OUTPUT)
        found = LINE.findall(block)
        if not found:
            continue
        if tally.count == 0:
            tally.first_at = now
        n, last = tally.count, tally.last_id
        for raw_id, raw_line in found:
            seq = int(raw_id)
            if seq <= last:
                tally.backwards += 1
            if int(raw_line) != n:
                tally.disorder += 1
            last = seq
            n += 1
        tally.count, tally.last_id, tally.last_at = n, last, now


async def fanout(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile(args.subs * 2 + 256)
    streams = await sse.connect_many(args.port, "/api/events?types=agent:output", args.subs)
    try:
        await asyncio.gather(*(sse.wait_connected(s) for s in streams))
        emit({"ready": True})
        tallies = [Tally() for _ in streams]
        readers = [
            asyncio.ensure_future(_drain(s, t, args.lines))
            for s, t in zip(streams, tallies, strict=True)
        ]
        cpu0 = time.process_time()
        started = time.monotonic()
        session = await start_session(args.port, {"maxIterations": 1})
        _, late = await asyncio.wait(readers, timeout=args.timeout)
        for task in late:
            task.cancel()
        for outcome in await asyncio.gather(*readers, return_exceptions=True):
            if isinstance(outcome, Exception):
                raise outcome
        cpu = time.process_time() - cpu0
    finally:
        for s in streams:
            s.close()
    got = [t for t in tallies if t.count]
    first = min((t.first_at for t in got), default=started)
    last = max((t.last_at for t in got), default=started)
    complete = sum(1 for t in tallies if t.count == args.lines and not t.disorder)
    return {
        "session": session,
        "subscribers": len(tallies),
        "complete": complete,
        "lost": sum(max(0, args.lines - t.count) for t in tallies),
        "disorder": sum(t.disorder for t in tallies),
        "backwards": sum(t.backwards for t in tallies),
        "extra_frames": sum(t.frames - t.count for t in tallies),
        "delivered": sum(t.count for t in tallies),
        "span": last - first,
        "post_to_last": last - started,
        "timed_out": len(late),
        "client_cpu": cpu,
    }


# --- idle and stalled subscribers ------------------------------------------


async def idle(args: argparse.Namespace) -> dict[str, Any]:
    raise_nofile(args.subs * 2 + 256)
    path = "/api/events" + (f"?types={args.types}" if args.types else "")
    kw: dict[str, Any] = {"rcvbuf": 4096, "limit": 1024} if args.stall else {}
    streams = await sse.connect_many(args.port, path, args.subs, **kw)
    drains: list[asyncio.Future[Any]] = []
    try:
        await asyncio.gather(*(sse.wait_connected(s) for s in streams))
        if not args.stall:  # keep reading keep-alives, as a live browser tab does
            drains = [asyncio.ensure_future(_discard(s)) for s in streams]
        emit({"ready": True, "subscribers": len(streams)})
        loop = asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.readline), args.timeout)
        ended = sum(1 for d in drains if d.done())
    finally:
        for d in drains:
            d.cancel()
        for s in streams:
            s.close(abort=args.stall)
    return {"subscribers": len(streams), "ended_early": ended}


async def _discard(stream: sse.Stream) -> None:
    while await stream.read() is not None:
        pass


# --- latency ---------------------------------------------------------------


async def _events(stream: sse.Stream, on_event: Any) -> None:
    while True:
        block = await stream.frames()
        if block is None:
            return
        now = time.monotonic()
        wall = time.time()
        for raw in DATA.findall(block):
            on_event(json.loads(raw), now, wall)


async def latency_start(args: argparse.Namespace) -> dict[str, Any]:
    path = "/api/events?types=session:started,session:completed,session:failed"
    stream = await sse.connect(args.port, path)
    await sse.wait_connected(stream)
    arrived: dict[str, float] = {}
    ended: dict[str, float] = {}
    wake = asyncio.Event()

    def on_event(event: dict[str, Any], now: float, wall: float) -> None:
        target = arrived if event["type"] == "session:started" else ended
        target[event["sessionId"]] = now
        wake.set()

    async def until(table: dict[str, float], sid: str) -> float:
        while sid not in table:
            wake.clear()
            await asyncio.wait_for(wake.wait(), 10)
        return table[sid]

    reader = asyncio.ensure_future(_events(stream, on_event))
    samples: list[float] = []
    emit({"ready": True})
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{args.port}", timeout=10) as c:
            for i in range(args.warmup + args.samples):
                t0 = time.monotonic()
                r = await c.post("/api/sessions", json={"options": {"dryRun": True}})
                if r.status_code != 201:
                    raise RuntimeError(f"POST /api/sessions: {r.status_code} {r.text[:300]}")
                sid = r.json()["sessionId"]
                took = await until(arrived, sid) - t0
                if i >= args.warmup:
                    samples.append(took)
                await until(ended, sid)
                await asyncio.sleep(args.pause)
    finally:
        reader.cancel()
        stream.close()
    return {"samples": samples}


async def latency_line(args: argparse.Namespace) -> dict[str, Any]:
    stream = await sse.connect(args.port, "/api/events?types=agent:output")
    await sse.wait_connected(stream)
    samples: list[float] = []
    done = asyncio.Event()
    mark = re.compile(r"^t=([\d.]+) i=(\d+)$")

    def on_event(event: dict[str, Any], now: float, wall: float) -> None:
        found = mark.match(str(event["data"].get("text", "")))
        if found:
            samples.append(wall - float(found.group(1)))
            if int(found.group(2)) == args.lines - 1:
                done.set()

    reader = asyncio.ensure_future(_events(stream, on_event))
    emit({"ready": True})
    try:
        await start_session(args.port, {"maxIterations": 1})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), args.timeout)
    finally:
        reader.cancel()
        stream.close()
    return {"samples": samples}


# --- the orchestrator's side -----------------------------------------------


class LoadProcess:
    """A running `python -m bench.load`; read its JSON lines, tell it to go, reap it."""

    def __init__(self, mode: str, port: int, *args: str) -> None:
        cmd = [sys.executable, "-m", "bench.load", mode, "--port", str(port), *args]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")

    def message(self, timeout: float) -> dict[str, Any]:
        """The next JSON line; an `error` line or the process's end raises."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"load process silent for {timeout} s") from None
        if not line:
            self.proc.wait(timeout=10)
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"load process ended ({self.proc.returncode}): {err[-1500:]}")
        message: dict[str, Any] = json.loads(line)
        if "error" in message:
            raise RuntimeError(f"load process failed: {message['error']}")
        return message

    def result(self, timeout: float) -> dict[str, Any]:
        while True:
            message = self.message(timeout)
            if "result" in message:
                result: dict[str, Any] = message["result"]
                return result

    def release(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.write("go\n")
                self.proc.stdin.close()

    def close(self) -> None:
        self.release()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> LoadProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    modes = parser.add_subparsers(dest="mode", required=True)
    p = modes.add_parser("fanout")
    p.add_argument("--subs", type=int, default=100)
    p.add_argument("--lines", type=int, default=2000)
    p.add_argument("--timeout", type=float, default=120)
    p = modes.add_parser("idle")
    p.add_argument("--subs", type=int, default=1000)
    p.add_argument("--types", default="")
    p.add_argument("--stall", action="store_true")
    p.add_argument("--timeout", type=float, default=300)
    p = modes.add_parser("latency-start")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--pause", type=float, default=0.01)
    p.add_argument("--warmup", type=int, default=3, help="first sessions, not counted")
    p = modes.add_parser("latency-line")
    p.add_argument("--lines", type=int, default=400)
    p.add_argument("--timeout", type=float, default=120)
    for sub in modes.choices.values():
        sub.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    run = {
        "fanout": fanout,
        "idle": idle,
        "latency-start": latency_start,
        "latency-line": latency_line,
    }[args.mode]
    try:
        result = asyncio.run(run(args))
    except Exception as exc:
        emit({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    emit({"result": result})
    return 0


if __name__ == "__main__":
    sys.exit(main())
