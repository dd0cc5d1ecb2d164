"""What every route needs from a request: the runtime, a decoded body, an existing session."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from starlette.requests import Request

from loki_mode.errors import SessionNotFound, ValidationProblem
from loki_mode.runtime import Runtime

T = TypeVar("T")


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def decode_body(request: Request, model: type[T], *, optional: bool = False) -> T:
    body = await request.body()
    if not body:  # no body at all; whitespace alone is malformed JSON
        if optional:
            return msgspec.json.decode(b"{}", type=model)
        raise ValidationProblem("A JSON request body is required")
    try:
        return msgspec.json.decode(body, type=model)
    except msgspec.ValidationError as exc:
        raise ValidationProblem(f"Invalid request: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValidationProblem(f"Malformed JSON: {exc}") from None
    except UnicodeDecodeError:  # msgspec lets invalid UTF-8 inside a string through as this
        raise ValidationProblem("Malformed JSON: the body is not UTF-8") from None


async def require_session(rt: Runtime, session_id: str) -> None:
    if await rt.store.get_session(session_id) is None:
        raise SessionNotFound(f"Session not found: {session_id}", sessionId=session_id)
