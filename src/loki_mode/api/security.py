"""The security model, as one ASGI middleware in front of every route.

In order: DNS-rebinding Host check, authentication, CORS and foreign-Origin
refusal, body type and size. Who is loopback is decided from the socket peer
address only, never from headers or the URL. Tokens are compared in constant
time and never logged or echoed.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from functools import lru_cache, partial
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loki_mode.api.responses import error_body
from loki_mode.errors import PayloadTooLarge
from loki_mode.settings import Settings

PUBLIC_PREFIXES = ("/health", "/static/", "/docs", "/openapi.yaml", "/favicon.ico")
PUBLIC_PATHS = frozenset({"/", "/api/auth"})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOKEN_COOKIE = "loki_token"
CORS_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, X-API-Key, Last-Event-ID"
Verdict = Callable[..., Awaitable[None]] | tuple[list[tuple[bytes, bytes]], bool]


@lru_cache(maxsize=256)
def is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=256)
def is_loopback_name(host_header: str) -> bool:
    """Whether a Host header names this machine's loopback (a name a rebinding page cannot use)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host == "localhost" or host.endswith(".localhost") or is_loopback_address(host)


def _cookie_token(cookie: str) -> str | None:
    for part in cookie.split(";"):
        name, _, value = part.strip().partition("=")
        if name == TOKEN_COOKIE:
            return value
    return None


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.token = settings.token.encode() if settings.token else None
        self.auth = settings.auth
        self.cors = settings.cors
        self.origins = frozenset(o.rstrip("/") for o in settings.cors_origins)
        self.max_body = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Deciding happens in a plain function, so none of its locals (the header
        # dict above all) stay on the stack of a request that lives for hours.
        verdict = self._check(scope)
        if callable(verdict):
            await verdict(send=send)
            return
        cors_headers, limit_body = verdict
        if limit_body:
            receive = _limited(receive, self.max_body)
        if cors_headers:
            send = _with_headers(send, cors_headers)
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> Verdict:
        """A response that refuses the request, or (CORS headers, whether to cap the body)."""
        headers: dict[bytes, bytes] = dict(scope["headers"])
        client = scope.get("client")
        loopback = client is not None and is_loopback_address(client[0])
        path: str = scope["path"]
        method: str = scope["method"]
        token_ok = self._token_ok(headers)

        host = headers.get(b"host", b"").decode("latin-1")
        if loopback and not token_ok and not is_loopback_name(host):
            return partial(_refuse, 403, "FORBIDDEN", "Host header does not name this machine")
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        if not public and not loopback and self.auth and not token_ok:
            if self.token is None:
                return partial(
                    _refuse, 403, "FORBIDDEN", "Remote access needs LOKI_API_TOKEN on the server"
                )
            else:
                return partial(
                    _refuse,
                    401,
                    "UNAUTHORIZED",
                    "Missing or invalid API token",
                    extra=[(b"www-authenticate", b"Bearer")],
                )

        cors_headers: list[tuple[bytes, bytes]] = []
        origin = headers.get(b"origin")
        if origin is not None:
            origin_s = origin.decode("latin-1").rstrip("/")
            allowed = self._origin_allowed(origin_s, host, scope)
            if method == "OPTIONS" and b"access-control-request-method" in headers:
                if not allowed:
                    return partial(_refuse, 403, "FORBIDDEN", "Origin not allowed")
                return partial(_preflight, origin=origin)
            if not allowed and method in UNSAFE_METHODS:
                return partial(_refuse, 403, "FORBIDDEN", "Cross-origin request refused")
            if allowed:
                cors_headers = [
                    (b"access-control-allow-origin", origin),
                    (b"access-control-allow-credentials", b"true"),
                    (b"vary", b"Origin"),
                ]

        if method in UNSAFE_METHODS:
            length = headers.get(b"content-length")
            has_body = (length is not None and length.strip() not in (b"", b"0")) or (
                b"transfer-encoding" in headers
            )
            if has_body:
                ctype = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
                if ctype != b"application/json":
                    return partial(
                        _refuse,
                        415,
                        "UNSUPPORTED_MEDIA_TYPE",
                        "Request bodies must be application/json",
                        cors_headers,
                    )
                try:
                    too_big = length is not None and int(length) > self.max_body
                except ValueError:
                    return partial(
                        _refuse, 400, "BAD_REQUEST", "Invalid Content-Length", cors_headers
                    )
                if too_big:
                    return partial(
                        _refuse,
                        413,
                        "PAYLOAD_TOO_LARGE",
                        f"Request body exceeds {self.max_body} bytes",
                        cors_headers,
                    )
                return cors_headers, True

        return cors_headers, False

    def _token_ok(self, headers: dict[bytes, bytes]) -> bool:
        if self.token is None:
            return False
        offered = headers.get(b"x-api-key")
        auth = headers.get(b"authorization")
        if auth is not None and auth[:7].lower() == b"bearer ":
            offered = auth[7:].strip()
        if offered is None and b"cookie" in headers:
            cookie = _cookie_token(headers[b"cookie"].decode("latin-1"))
            offered = cookie.encode() if cookie else None
        return offered is not None and hmac.compare_digest(offered, self.token)

    def _origin_allowed(self, origin: str, host: str, scope: Scope) -> bool:
        scheme = scope.get("scheme", "http")
        if origin == f"{scheme}://{host}":
            return True
        return self.cors and origin in self.origins


async def _refuse(
    status: int,
    code: str,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
    *,
    send: Send,
) -> None:
    body = error_body(code, message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _preflight(origin: bytes, *, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                (b"access-control-allow-origin", origin),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-allow-methods", CORS_METHODS.encode()),
                (b"access-control-allow-headers", CORS_HEADERS.encode()),
                (b"access-control-max-age", b"600"),
                (b"vary", b"Origin"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"Request body exceeds {limit} bytes")
        return message

    return wrapped


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


def describe(settings: Settings) -> dict[str, Any]:
    """What the start banner says about access, without the token itself."""
    return {
        "token": bool(settings.token),
        "auth": settings.auth,
        "cors_origins": list(settings.cors_origins) if settings.cors else [],
    }
