"""Every error our code raises, one tree per layer.

    LokiError                      base of everything we raise on purpose
    ├── ApiProblem                 carries the HTTP status and the spec's ApiError code
    │   ├── ValidationProblem      422 VALIDATION_ERROR
    │   ├── NotFound               404 NOT_FOUND
    │   │   ├── SessionNotFound    404 SESSION_NOT_FOUND
    │   │   └── TaskNotFound       404 TASK_NOT_FOUND
    │   ├── MethodNotAllowed       405 METHOD_NOT_ALLOWED
    │   ├── Conflict               409 CONFLICT
    │   │   └── SessionAlreadyRunning  409 SESSION_ALREADY_RUNNING
    │   ├── ProviderNotAvailable   503 PROVIDER_NOT_AVAILABLE
    │   ├── Unauthorized           401 UNAUTHORIZED
    │   ├── Forbidden              403 FORBIDDEN
    │   ├── PayloadTooLarge        413 PAYLOAD_TOO_LARGE
    │   └── UnsupportedMediaType   415 UNSUPPORTED_MEDIA_TYPE
    ├── StoreError                 the store failed (sqlite3 errors are converted where they enter)
    ├── EngineError                a provider process could not be started or supervised
    └── ConfigError                settings that cannot work (e.g. non-loopback bind without a token)

One handler in api/ renders every ApiProblem as the spec's ApiError envelope; a
StoreError becomes 503 and anything else 500, without leaking internals.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LokiError(Exception):
    """Base of every error we raise on purpose."""


class ApiProblem(LokiError):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationProblem(ApiProblem):
    status, code = 422, "VALIDATION_ERROR"


class NotFound(ApiProblem):
    status, code = 404, "NOT_FOUND"


class SessionNotFound(NotFound):
    code = "SESSION_NOT_FOUND"


class TaskNotFound(NotFound):
    code = "TASK_NOT_FOUND"


class MethodNotAllowed(ApiProblem):
    status, code = 405, "METHOD_NOT_ALLOWED"


class Conflict(ApiProblem):
    status, code = 409, "CONFLICT"


class SessionAlreadyRunning(Conflict):
    code = "SESSION_ALREADY_RUNNING"


class ProviderNotAvailable(ApiProblem):
    status, code = 503, "PROVIDER_NOT_AVAILABLE"


class Unauthorized(ApiProblem):
    status, code = 401, "UNAUTHORIZED"


class Forbidden(ApiProblem):
    status, code = 403, "FORBIDDEN"


class PayloadTooLarge(ApiProblem):
    status, code = 413, "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiProblem):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class StoreError(LokiError):
    """The store could not do what was asked."""


class EngineError(LokiError):
    """A provider process could not be started or supervised."""


class ConfigError(LokiError):
    """Settings that cannot work together."""
