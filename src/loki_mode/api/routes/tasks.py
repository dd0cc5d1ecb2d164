"""Tasks: per session, across sessions, active and queued."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loki_mode.api import params
from loki_mode.api.cache import cached
from loki_mode.api.context import require_session
from loki_mode.api.context import runtime as _rt
from loki_mode.api.responses import JSON
from loki_mode.errors import TaskNotFound
from loki_mode.models import Pagination, TaskCounts, TaskList, TaskPage
from loki_mode.types import TASK_STATUSES

ACTIVE_LIMIT = 1000


async def _page(request: Request, session_id: str | None) -> Response:
    rt = _rt(request)
    status = params.choice(request.query_params, "status", TASK_STATUSES)
    limit, offset = params.page(request.query_params)
    if session_id is not None:
        await require_session(rt, session_id)
    tasks, total = await rt.store.list_tasks(session_id, status, limit, offset)
    counts = await rt.store.task_counts(session_id)
    return JSON(
        TaskPage(
            tasks=tasks,
            pagination=Pagination(
                total=total, limit=limit, offset=offset, has_more=offset + len(tasks) < total
            ),
            summary=TaskCounts(total=sum(counts.values()), **counts),
        )
    )


async def session_tasks(request: Request) -> Response:
    return await _page(request, request.path_params["session_id"])


async def all_tasks(request: Request) -> Response:
    return await _page(request, None)


async def get_task(request: Request) -> Response:
    rt = _rt(request)
    session_id, task_id = request.path_params["session_id"], request.path_params["task_id"]
    await require_session(rt, session_id)
    task = await rt.store.get_task(session_id, task_id)
    if task is None:
        raise TaskNotFound(f"Task not found: {task_id}", sessionId=session_id, taskId=task_id)
    return JSON(task)


async def active_tasks(request: Request) -> Response:
    tasks = await _rt(request).store.tasks_with_status(("running",), ACTIVE_LIMIT)
    return JSON(TaskList(tasks=tasks, count=len(tasks)))


async def queued_tasks(request: Request) -> Response:
    tasks = await _rt(request).store.tasks_with_status(("pending", "queued"), ACTIVE_LIMIT)
    return JSON(TaskList(tasks=tasks, count=len(tasks)))


routes = [
    Route("/api/sessions/{session_id}/tasks", cached(session_tasks), methods=["GET"]),
    Route("/api/sessions/{session_id}/tasks/{task_id}", cached(get_task), methods=["GET"]),
    Route("/api/tasks", cached(all_tasks), methods=["GET"]),
    Route("/api/tasks/active", cached(active_tasks), methods=["GET"]),
    Route("/api/tasks/queue", cached(queued_tasks), methods=["GET"]),
]
