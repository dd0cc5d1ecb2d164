"""One session's autonomous loop: controls, prompt, provider run, outcome, waits.

The runner talks to the store only: it reads its session and its pending
controls, and writes state and events. It never depends on sharing a process
with the API; `wake` only shortens the wait before it next reads its controls.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from loki_mode.clock import now_iso
from loki_mode.engine import plan, process
from loki_mode.engine.controls import Controls, Stop
from loki_mode.engine.ingest import FactSink, IterationState, task_events
from loki_mode.engine.prompt import PromptInput, build, complexity_of
from loki_mode.errors import EngineError
from loki_mode.events import NewEvent
from loki_mode.providers.base import CommandSpec, Provider
from loki_mode.settings import EngineSettings, ProviderSettings
from loki_mode.store import Store, StoreTx

log = logging.getLogger("loki.engine")
STDERR_TAIL = 50
READ_CHUNK = 256 * 1024


class Finished(Exception):
    """The session reached an end state other than stopped."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RunResult:
    exit_code: int
    state: IterationState
    stderr_tail: str


class Runner:
    def __init__(
        self,
        session_id: str,
        *,
        store: Store,
        provider: Provider,
        command: ProviderSettings,
        settings: EngineSettings,
        runner_id: str,
        info: dict[str, Any],
    ) -> None:
        self.id = session_id
        self.store = store
        self.provider = provider
        self.command = command
        self.settings = settings
        self.runner_id = runner_id
        self.info = info
        self.project = Path(info["project_dir"])
        self.prd = Path(info["prd_path"]) if info["prd_path"] else None
        options = info["options"]
        self.dry_run = bool(options.get("dryRun"))
        self.verbose = bool(options.get("verbose"))
        self.timeout: int | None = options.get("timeout")
        self.max_iterations: int = options.get("maxIterations") or settings.max_iterations
        self.promise: str | None = (
            None
            if settings.perpetual
            else options.get("completionPromise") or settings.completion_promise
        )
        self.iteration: int = info["iteration"]
        self.phase: str | None = info["current_phase"]
        self.failures = 0
        self.controls = Controls(
            store,
            session_id,
            poll=settings.control_poll,
            emit=self._emit,
            paused=info["status"] == "paused",
        )
        self.shutdown_reason: str | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.open_iteration = False  # an iteration task is running and must be closed

    # --- writes ------------------------------------------------------------

    async def _emit(self, type_: str, data: dict[str, Any], **session: Any) -> None:
        def write(tx: StoreTx) -> None:
            if session:
                tx.update_session(self.id, **session)
            tx.append(NewEvent(type_, self.id, data))

        await self.store.transact(write)

    async def _task(self, key: str, **fields: Any) -> None:
        def write(tx: StoreTx) -> None:
            for e in task_events(self.id, tx.upsert_task(self.id, key, **fields)):
                tx.append(e)

        await self.store.transact(write)

    # --- lifecycle ---------------------------------------------------------

    async def run(self) -> None:
        try:
            if self.info["status"] == "stopping":
                raise Stop("stop requested")
            await self._emit(
                "log:info",
                {"message": f"runner {self.runner_id} took the session"},
                status="paused" if self.controls.paused else "running",
                runner_id=self.runner_id,
            )
            if self.dry_run:
                await self._dry_run()
            deadline = None if self.timeout is None else _started_epoch(self.info) + self.timeout
            try:
                async with asyncio.timeout_at(
                    None if deadline is None else _loop_time_at(deadline)
                ):
                    await self._loop()
            except TimeoutError:
                raise Finished("failed", "timeout") from None
        except Stop as stop:
            await self._finish("stopped", stop.reason)
        except Finished as end:
            await self._finish(end.status, end.reason)
        except asyncio.CancelledError:
            await self._finish("stopped", self.shutdown_reason or "server shutdown")
            raise
        except Exception as exc:  # the session fails; the server goes on
            log.exception("runner of session %s crashed", self.id)
            await self._finish("failed", f"internal error: {exc}")

    async def _finish(self, status: str, reason: str) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            await process.end_group(proc.pid, self.settings.stop_grace)
        agent_status = "completed" if status == "completed" else "failed"
        phase = self.phase
        iteration = self.iteration

        open_iteration = self.open_iteration

        def write(tx: StoreTx) -> None:
            if open_iteration:
                change = tx.upsert_task(
                    self.id, f"iteration-{iteration}", status="failed", error=reason
                )
                for e in task_events(self.id, change):
                    tx.append(e)
            for agent in tx.finish_active_agents(self.id, agent_status):
                tx.append(
                    NewEvent(f"agent:{agent_status}", self.id, {"agentId": agent, "reason": reason})
                )
            if phase is not None:
                kind = "phase:completed" if status == "completed" else "phase:failed"
                tx.append(NewEvent(kind, self.id, {"phase": phase}))
            tx.cancel_controls(self.id)
            tx.update_session(
                self.id,
                status=status,
                reason=reason,
                pid=None,
                pgid=None,
                finished_at=now_iso(),
                runner_id=None,
            )
            tx.append(
                NewEvent(f"session:{status}", self.id, {"reason": reason, "iterations": iteration})
            )

        await self.store.transact(write)

    # --- the loop ----------------------------------------------------------

    async def _loop(self) -> None:
        s = self.settings
        while True:
            await self.controls.boundary(self.iteration)
            if self.iteration >= self.max_iterations:
                raise Finished("completed", "max iterations reached")
            self.iteration += 1
            result = await self._iteration()
            state, code = result.state, result.exit_code
            outcome = state.outcome
            ok = code == 0 and not (outcome is not None and outcome.is_error)
            if ok:
                self.failures = 0
                if self._promise_kept(state):
                    raise Finished("completed", "completion promise fulfilled")
                if state.questions:
                    await self.controls.await_input(
                        state.questions[-1], s.input_timeout, self.iteration
                    )
                continue
            if outcome is not None and outcome.fatal:
                raise Finished("failed", outcome.text or outcome.subtype or f"exit code {code}")
            if code in self.provider.fatal_exit_codes:
                raise Finished("failed", _last_line(result.stderr_tail) or f"exit code {code}")
            self.failures += 1
            if self.failures > s.max_retries:
                raise Finished(
                    "failed", f"{self.failures} consecutive failures (last exit code {code})"
                )
            if state.rate_limit is not None:
                wait = self._rate_limit_wait(state.rate_limit.resets_at)
                await self.controls.wait(wait, "rate limit", self.iteration)
            else:
                base = min(s.base_wait * 2 ** (self.failures - 1), s.max_wait)
                wait = base + random.uniform(0, base * s.jitter)
                await self.controls.wait(wait, "backoff", self.iteration)

    def _promise_kept(self, state: IterationState) -> bool:
        promise = self.promise
        return promise is not None and any(promise in text for text in state.texts)

    def _rate_limit_wait(self, resets_at: float | None) -> float:
        s = self.settings
        if resets_at is None:
            return s.rate_limit_default_wait
        return min(max(resets_at - time.time(), 0.0) + s.rate_limit_margin, s.max_wait)

    async def _iteration(self) -> RunResult:
        n = self.iteration
        main = f"main-{n}"

        def begin(tx: StoreTx) -> None:
            tx.update_session(self.id, iteration=n)
            tx.upsert_agent(
                self.id,
                main,
                type=self.provider.name,
                description=f"iteration {n}",
                status="active",
                iteration=n,
            )
            tx.append(
                NewEvent(
                    "agent:spawned",
                    self.id,
                    {"agentId": main, "type": self.provider.name, "description": f"iteration {n}"},
                )
            )
            for e in task_events(
                self.id,
                tx.upsert_task(
                    self.id, f"iteration-{n}", title=f"Iteration {n}", status="running", agent=main
                ),
            ):
                tx.append(e)

        await self.store.transact(begin)
        self.open_iteration = True
        prompt = await self._prompt()
        sink = FactSink(self.store, self.id, n, self.phase, self.verbose)
        result = await self._run_provider(prompt, sink)
        self.phase = sink.state.phase
        await sink.flush()
        ok = result.exit_code == 0 and not (result.state.outcome and result.state.outcome.is_error)
        status = "completed" if ok else "failed"
        error = (
            None
            if ok
            else (result.state.outcome.text if result.state.outcome else "")
            or result.stderr_tail[-2000:]
            or f"exit code {result.exit_code}"
        )

        def end(tx: StoreTx) -> None:
            change = tx.upsert_task(self.id, f"iteration-{n}", status=status, error=error)
            for e in task_events(self.id, change):
                tx.append(e)
            tx.upsert_agent(self.id, main, status=status)
            tx.append(
                NewEvent(
                    f"agent:{status}", self.id, {"agentId": main, "exitCode": result.exit_code}
                )
            )

        await self.store.transact(end)
        self.open_iteration = False
        return result

    async def _prompt(self) -> str:
        taken = self.controls.take_directives()

        def consume(tx: StoreTx) -> None:
            for control_id, _ in taken:
                tx.set_control_state(control_id, "consumed")
                tx.append(
                    NewEvent(
                        "input:consumed",
                        self.id,
                        {"controlId": control_id, "iteration": self.iteration},
                    )
                )

        if taken:
            await self.store.transact(consume)
        return build(
            PromptInput(
                iteration=self.iteration,
                max_iterations=self.max_iterations,
                prd_path=self.prd,
                completion_promise=self.promise,
                directives=[text for _, text in taken],
                complexity=complexity_of(self.prd),
            )
        )

    async def _run_provider(self, prompt: str, sink: FactSink) -> RunResult:
        spec = CommandSpec(self.command.command, self.command.model, self.command.extra_args)
        argv = self.provider.build_argv(prompt, spec, str(self.project))
        logs = self.project / ".loki" / "logs" / self.id
        logs.mkdir(parents=True, exist_ok=True)
        parser = self.provider.parser()
        tail: list[str] = []
        try:
            proc = await process.spawn(argv, self.project)
        except EngineError as exc:
            raise Finished("failed", str(exc)) from exc
        self.proc = proc
        await self._emit(
            "log:info",
            {"message": f"iteration {self.iteration}: started {argv[0]}", "pid": proc.pid},
            pid=proc.pid,
            pgid=proc.pid,
            proc_started=process.started_at(proc.pid),
        )
        assert proc.stdout is not None and proc.stderr is not None
        stop_reason: str | None = None
        with (logs / f"iteration-{self.iteration}.log").open("w", encoding="utf-8") as out:

            async def read_stdout() -> None:
                # Whatever the pipe holds is read at once and committed as one unit.
                assert proc.stdout is not None
                rest = b""
                while chunk := await proc.stdout.read(READ_CHUNK):
                    *lines, rest = (rest + chunk).split(b"\n")
                    if len(rest) > process.STREAM_LIMIT:  # a runaway line is cut, not hoarded
                        lines.append(rest)
                        rest = b""
                    for raw in lines:
                        line = raw.decode("utf-8", "replace").rstrip("\r")
                        out.write(line + "\n")
                        sink.feed(parser.feed(line))
                    sink.commit()
                if rest:
                    line = rest.decode("utf-8", "replace").rstrip("\r")
                    out.write(line + "\n")
                    sink.feed(parser.feed(line))
                sink.feed(parser.finish())
                sink.commit()

            async def read_stderr() -> None:
                assert proc.stderr is not None
                async for raw in proc.stderr:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    out.write("[stderr] " + line + "\n")
                    tail.append(line)
                    del tail[:-STDERR_TAIL]
                    if self.verbose:
                        sink.log("debug", line, stream="stderr")
                        sink.commit()

            async def watch_controls() -> None:
                nonlocal stop_reason
                while True:
                    await self.controls.sleep_or_wake(self.settings.control_poll)
                    if await self.controls.stop_pending():
                        stop_reason = "stop requested"
                        await process.end_group(proc.pid, self.settings.stop_grace)
                        return

            watcher = asyncio.create_task(watch_controls())
            try:
                await asyncio.gather(read_stdout(), read_stderr())
                code = await proc.wait()
            finally:
                watcher.cancel()
                if proc.returncode is None or process.group_alive(proc.pid):
                    await process.end_group(proc.pid, self.settings.stop_grace)
                    await proc.wait()
                self.proc = None
        await self._emit(
            "log:info",
            {"message": f"iteration {self.iteration}: exit code {code}", "exitCode": code},
            pid=None,
            pgid=None,
        )
        if stop_reason is not None:
            await sink.flush()
            raise Stop(stop_reason)
        return RunResult(code, sink.state, "\n".join(tail))

    async def _dry_run(self) -> None:
        items = plan.from_prd(self.prd)
        self.iteration = 1
        prompt = await self._prompt()
        spec = CommandSpec(self.command.command, self.command.model, self.command.extra_args)
        argv = self.provider.build_argv(prompt, spec, str(self.project))

        def write(tx: StoreTx) -> None:
            tx.update_session(self.id, iteration=1)
            for i, (title, done) in enumerate(items):
                change = tx.upsert_task(
                    self.id,
                    f"plan:prd-{i}",
                    title=title,
                    status="completed" if done else "pending",
                    priority=i,
                )
                for e in task_events(self.id, change):
                    tx.append(e)
            change = tx.upsert_task(
                self.id, "iteration-1", title="Iteration 1", status="skipped", output=prompt
            )
            for e in task_events(self.id, change):
                tx.append(e)
            tx.append(
                NewEvent(
                    "log:info",
                    self.id,
                    {
                        "message": "dry run: the provider is not called",
                        "argv": ["<prompt>" if a == prompt else a for a in argv],
                        "prompt": prompt,
                        "prdPath": str(self.prd) if self.prd else None,
                        "planItems": len(items),
                    },
                )
            )

        await self.store.transact(write)
        raise Finished("completed", "dry run")


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


def _started_epoch(info: dict[str, Any]) -> float:
    return datetime.fromisoformat(info["started_at"].replace("Z", "+00:00")).timestamp()


def _loop_time_at(epoch: float) -> float:
    return asyncio.get_running_loop().time() + (epoch - time.time())
