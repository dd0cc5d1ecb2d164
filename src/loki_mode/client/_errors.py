"""What the client raises; transport errors are converted where they enter our code.

LokiError                      anything the client raises on purpose
 ├── LokiApiError              the server answered with an error status (or an unreadable body)
 └── LokiConnectionError       no answer: refused, timed out, dropped, bad URL
"""

from __future__ import annotations

from typing import Any

__all__ = ["LokiApiError", "LokiConnectionError", "LokiError"]


class LokiError(Exception):
    """Base class of every error the Loki client raises."""


class LokiApiError(LokiError):
    """The server answered with an `ApiError` (or a body the client could not read).

    `status` is the HTTP status, `code` the server's machine-readable code
    (e.g. `SESSION_NOT_FOUND`), `message` its human-readable text and `details`
    its `details` object. A body that is not an `ApiError` gets the code
    `HTTP_<status>`; a success body that does not match the expected model gets
    `INVALID_RESPONSE`.
    """

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return (
            f"LokiApiError(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, details={self.details!r})"
        )


class LokiConnectionError(LokiError):
    """The server could not be reached or the connection broke.

    `url` is the base URL tried and `reason` what went wrong, in a few words.
    """

    def __init__(self, message: str, *, url: str, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.reason = reason or message
