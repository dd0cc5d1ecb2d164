"""Starting, steering and deleting sessions: every rule the API enforces lives here.

The service writes state and controls to the store, each with its event in the
same transaction, and tells the engine to look; the engine does the rest.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Protocol

from loki_mode.engine.prd import confine, discover
from loki_mode.errors import (
    Conflict,
    PayloadTooLarge,
    ProviderNotAvailable,
    SessionAlreadyRunning,
    SessionNotFound,
    ValidationProblem,
)
from loki_mode.events import NewEvent
from loki_mode.models import ControlResponse, InputRequest, StartSessionRequest
from loki_mode.settings import Settings
from loki_mode.store import Store, StoreTx
from loki_mode.types import ACTIVE_STATUSES

MAX_INPUT_BYTES = 1024 * 1024


class Launcher(Protocol):
    """What the service needs of the engine."""

    def available(self, provider: str) -> bool: ...

    def launch(self, session_id: str) -> None: ...

    def notify(self, session_id: str) -> None: ...


class SessionService:
    def __init__(self, settings: Settings, store: Store, engine: Launcher) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine

    def _project(self, requested: str | None) -> Path:
        if requested is None:
            return self.settings.project_dir
        try:
            path = Path(requested).resolve(strict=True)
        except (OSError, RuntimeError):
            raise ValidationProblem("projectDir does not exist", field="projectDir") from None
        if not path.is_dir():
            raise ValidationProblem("projectDir is not a directory", field="projectDir")
        if not any(path.is_relative_to(root.resolve()) for root in self.settings.roots):
            raise ValidationProblem(
                "projectDir is outside the allowed roots",
                field="projectDir",
            )
        return path

    async def start(self, request: StartSessionRequest) -> tuple[str, str]:
        provider = request.provider or self.settings.default_provider
        project = self._project(request.project_dir)
        if request.prd_path is not None:
            prd = confine(request.prd_path, project)
            if prd is None:
                raise ValidationProblem(
                    "prdPath must be an existing file inside the project",
                    field="prdPath",
                    prdPath=request.prd_path,
                )
        else:
            prd = discover(project)
        if not request.options.dry_run and not self.engine.available(provider):
            raise ProviderNotAvailable(
                f"The {provider} CLI is not available on this server",
                provider=provider,
            )
        session_id = str(uuid.uuid4())
        options = {
            "dryRun": request.options.dry_run,
            "verbose": request.options.verbose,
            "timeout": request.options.timeout,
            "maxIterations": request.options.max_iterations,
            "completionPromise": request.options.completion_promise,
        }

        def create(tx: StoreTx) -> None:
            running = tx.active_session_in(str(project))
            if running is not None:
                raise SessionAlreadyRunning(
                    "A session is already running in this project", sessionId=running
                )
            tx.insert_session(
                session_id,
                provider=provider,
                prd_path=str(prd) if prd else None,
                project_dir=str(project),
                options=options,
                status="starting",
            )
            tx.append(
                NewEvent(
                    "session:started",
                    session_id,
                    {
                        "provider": provider,
                        "prdPath": str(prd) if prd else None,
                        "projectDir": str(project),
                        "dryRun": request.options.dry_run,
                    },
                )
            )

        await self.store.transact(create)
        self.engine.launch(session_id)
        mode = "dry run" if request.options.dry_run else provider
        return session_id, f"Session started ({mode})"

    async def _control(
        self,
        session_id: str,
        kind: str,
        allowed: frozenset[str],
        payload: dict[str, object],
        new_status: str | None,
        event: NewEvent | None,
        unless_pending: str | None = None,
    ) -> ControlResponse:
        def write(tx: StoreTx) -> tuple[str, str]:
            status = tx.session_status(session_id)
            if status is None:
                raise SessionNotFound(f"Session not found: {session_id}", sessionId=session_id)
            if status not in allowed and not (
                unless_pending
                and status in ACTIVE_STATUSES
                and tx.has_pending(session_id, unless_pending)
            ):
                raise Conflict(
                    f"Cannot {kind} a session that is {status}", sessionId=session_id, status=status
                )
            control_id = tx.add_control(session_id, kind, payload)
            if new_status is not None:
                tx.update_session(session_id, status=new_status)
            if event is not None:
                tx.append(
                    NewEvent(event.type, event.session_id, {**event.data, "controlId": control_id})
                )
            return control_id, new_status or status

        control_id, status = await self.store.transact(write)
        self.engine.notify(session_id)
        return ControlResponse(
            session_id=session_id,
            status=status,
            message=f"{kind.capitalize()} requested",
            control_id=control_id,
        )

    async def stop(self, session_id: str) -> ControlResponse:
        return await self._control(
            session_id, "stop", frozenset({"starting", "running", "paused"}), {}, "stopping", None
        )

    async def pause(self, session_id: str) -> ControlResponse:
        return await self._control(
            session_id, "pause", frozenset({"starting", "running"}), {}, None, None
        )

    async def resume(self, session_id: str) -> ControlResponse:
        # A resume also cancels a pause that has not reached an iteration boundary yet.
        return await self._control(
            session_id, "resume", frozenset({"paused"}), {}, None, None, unless_pending="pause"
        )

    async def send_input(self, session_id: str, request: InputRequest) -> ControlResponse:
        if not request.input.strip():
            raise ValidationProblem("input must not be empty", field="input")
        if len(request.input.encode()) > MAX_INPUT_BYTES:
            raise PayloadTooLarge("input exceeds 1 MiB", field="input")
        payload: dict[str, object] = {"input": request.input, "context": request.context}
        return await self._control(
            session_id,
            "input",
            frozenset({"running", "paused"}),
            payload,
            None,
            NewEvent("input:received", session_id, {"chars": len(request.input)}),
        )

    async def delete(self, session_id: str) -> None:
        def remove(tx: StoreTx) -> None:
            status = tx.session_status(session_id)
            if status is None:
                raise SessionNotFound(f"Session not found: {session_id}", sessionId=session_id)
            if status in ACTIVE_STATUSES:
                raise Conflict(
                    f"Cannot delete a session that is {status}; stop it first",
                    sessionId=session_id,
                    status=status,
                )
            tx.delete_session(session_id)

        await self.store.transact(remove)
