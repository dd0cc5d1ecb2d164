"""Sessions: start, list, inspect, steer and delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loki_mode.api.cache import cached
from loki_mode.api.context import decode_body, require_session
from loki_mode.api.context import runtime as _rt
from loki_mode.api.responses import JSON
from loki_mode.errors import SessionNotFound
from loki_mode.models import (
    AgentCounts,
    AgentList,
    DeleteResponse,
    InputRequest,
    SessionList,
    SessionStatusResponse,
    StartSessionRequest,
    StartSessionResponse,
    TaskCounts,
)


async def list_sessions(request: Request) -> Response:
    sessions = await _rt(request).store.list_sessions()
    running = sum(1 for s in sessions if s.status in ("starting", "running", "paused", "stopping"))
    return JSON(SessionList(sessions=sessions, total=len(sessions), running=running))


async def start_session(request: Request) -> Response:
    rt = _rt(request)
    body = await decode_body(request, StartSessionRequest, optional=True)
    session_id, message = await rt.service.start(body)
    return JSON(
        StartSessionResponse(session_id=session_id, status="starting", message=message), 201
    )


async def get_session(request: Request) -> Response:
    rt = _rt(request)
    session_id = request.path_params["session_id"]
    session = await rt.store.get_session(session_id)
    if session is None:
        raise SessionNotFound(f"Session not found: {session_id}", sessionId=session_id)
    counts = await rt.store.task_counts(session_id)
    agents = await rt.store.agent_counts(session_id)
    active = await rt.store.list_agents(session_id, active_only=True)
    return JSON(
        SessionStatusResponse(
            session=session,
            tasks=TaskCounts(total=sum(counts.values()), **counts),
            agents=AgentCounts(
                active=agents.get("active", 0),
                spawned=sum(agents.values()),
                completed=agents.get("completed", 0),
                failed=agents.get("failed", 0),
            ),
            active_agents=active,
        )
    )


async def delete_session(request: Request) -> Response:
    session_id = request.path_params["session_id"]
    await _rt(request).service.delete(session_id)
    return JSON(DeleteResponse(session_id=session_id, deleted=True))


async def stop_session(request: Request) -> Response:
    return JSON(await _rt(request).service.stop(request.path_params["session_id"]))


async def pause_session(request: Request) -> Response:
    return JSON(await _rt(request).service.pause(request.path_params["session_id"]))


async def resume_session(request: Request) -> Response:
    return JSON(await _rt(request).service.resume(request.path_params["session_id"]))


async def inject_input(request: Request) -> Response:
    rt = _rt(request)
    session_id = request.path_params["session_id"]
    await require_session(rt, session_id)
    body = await decode_body(request, InputRequest)
    return JSON(await rt.service.send_input(session_id, body))


async def list_agents(request: Request) -> Response:
    rt = _rt(request)
    session_id = request.path_params["session_id"]
    await require_session(rt, session_id)
    agents = await rt.store.list_agents(session_id)
    return JSON(AgentList(agents=agents, count=len(agents)))


routes = [
    Route("/api/sessions", cached(list_sessions), methods=["GET"]),
    Route("/api/sessions", start_session, methods=["POST"]),
    Route("/api/sessions/{session_id}", cached(get_session), methods=["GET"]),
    Route("/api/sessions/{session_id}", delete_session, methods=["DELETE"]),
    Route("/api/sessions/{session_id}/stop", stop_session, methods=["POST"]),
    Route("/api/sessions/{session_id}/pause", pause_session, methods=["POST"]),
    Route("/api/sessions/{session_id}/resume", resume_session, methods=["POST"]),
    Route("/api/sessions/{session_id}/input", inject_input, methods=["POST"]),
    Route("/api/sessions/{session_id}/agents", cached(list_agents), methods=["GET"]),
]
