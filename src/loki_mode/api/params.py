"""Query parameters checked against the limits we publish in /openapi.yaml."""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import QueryParams

from loki_mode.errors import ValidationProblem


def integer(
    params: QueryParams, name: str, default: int, *, low: int, high: int | None = None
) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationProblem(f"{name} must be an integer", parameter=name, value=raw) from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValidationProblem(f"{name} must be {bounds}", parameter=name, value=raw)
    return value


def choice(params: QueryParams, name: str, allowed: Collection[str]) -> str | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw not in allowed:
        raise ValidationProblem(
            f"{name} must be one of: {', '.join(allowed)}", parameter=name, value=raw
        )
    return raw


def page(params: QueryParams) -> tuple[int, int]:
    return (
        integer(params, "limit", 100, low=1, high=1000),
        integer(params, "offset", 0, low=0, high=2**62),
    )
