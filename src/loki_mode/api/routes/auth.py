"""Browser sign-in for remote dashboards: trade the token for a session cookie.

EventSource cannot send an Authorization header, and a token in the URL ends up
in logs; a strict same-site, HTTP-only cookie that lives as long as the browser
session carries it instead.
"""

from __future__ import annotations

import hmac

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from loki_mode.api.context import decode_body
from loki_mode.api.security import TOKEN_COOKIE
from loki_mode.errors import Unauthorized
from loki_mode.settings import Settings


class TokenRequest(msgspec.Struct):
    token: str


async def sign_in(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    body = await decode_body(request, TokenRequest)
    expected = settings.token
    if expected is None or not hmac.compare_digest(body.token.encode(), expected.encode()):
        raise Unauthorized("Invalid API token")
    response = Response(status_code=204)
    response.set_cookie(
        TOKEN_COOKIE,
        expected,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )
    return response


async def sign_out(request: Request) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(TOKEN_COOKIE, path="/")
    return response


routes = [
    Route("/api/auth", sign_in, methods=["POST"]),
    Route("/api/auth", sign_out, methods=["DELETE"]),
]
