"""JSON responses encoded with msgspec, and the one renderer of the ApiError envelope."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

from loki_mode.errors import ApiProblem
from loki_mode.models import ApiError

_encode = msgspec.json.Encoder().encode


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else _encode(content)


def error_body(status_code: str, message: str, details: dict[str, Any] | None = None) -> bytes:
    return _encode(ApiError(error=message, code=status_code, details=details or {}))


def problem(exc: ApiProblem, headers: dict[str, str] | None = None) -> JSON:
    return JSON(
        error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers
    )
