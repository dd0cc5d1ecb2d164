"""One settings object that the CLI, the environment and tests all fill.

`create_app(settings)` takes it whole; nothing else reads the environment.
Variable names follow the original runner's, so existing setups keep working.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from loki_mode.errors import ConfigError
from loki_mode.types import PROVIDERS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8420
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """How to run one provider CLI: the command (argv prefix), model and extra arguments."""

    command: tuple[str, ...]
    model: str | None = None
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EngineSettings:
    max_iterations: int = 1000
    max_retries: int = 50
    base_wait: float = 60.0
    max_wait: float = 3600.0
    jitter: float = 0.1  # fraction of each backoff added at random
    rate_limit_default_wait: float = 300.0
    rate_limit_margin: float = 5.0
    completion_promise: str | None = None
    perpetual: bool = False
    stop_grace: float = 5.0
    input_timeout: float = 3600.0
    control_poll: float = 1.0  # waits check the store for controls at least this often
    recovery: Literal["resume", "fail"] = "resume"


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    project_dir: Path = field(default_factory=Path.cwd)
    token: str | None = None
    auth: bool = True
    cors: bool = True
    cors_origins: tuple[str, ...] = ()
    default_provider: str = "claude"
    allowed_roots: tuple[Path, ...] = ()  # extra folders sessions may run in (projectDir)
    keepalive_interval: float = 15.0
    heartbeat_interval: float = 10.0
    subscriber_buffer: int = 10_000  # queued frames before a slow SSE reader is cut off
    event_retention: int | None = None  # newest events kept; None keeps everything
    max_body_bytes: int = MAX_BODY_BYTES
    db_path: Path | None = None  # default <project_dir>/.loki/loki.db
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
    engine: EngineSettings = field(default_factory=EngineSettings)

    @property
    def store_path(self) -> Path:
        return self.db_path or self.project_dir / ".loki" / "loki.db"

    @property
    def roots(self) -> tuple[Path, ...]:
        """Folders a session may run in: the server's project and the configured extra roots."""
        return (self.project_dir, *self.allowed_roots)

    def provider(self, name: str) -> ProviderSettings:
        return self.providers.get(name) or ProviderSettings(command=(name,))

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{key} must be a number, got {raw!r}") from exc


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    return int(_float(env, key, default))


def _flag(env: Mapping[str, str], key: str) -> bool:
    return env.get(key, "").strip().lower() in {"1", "true", "yes", "on"}


def from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from LOKI_* variables; keyword overrides (from CLI flags) win."""
    env = os.environ if env is None else env
    providers = {
        name: ProviderSettings(
            command=tuple(shlex.split(env.get(f"LOKI_{name.upper()}_CMD", "") or name)),
            model=env.get(f"LOKI_{name.upper()}_MODEL") or None,
            extra_args=tuple(shlex.split(env.get(f"LOKI_{name.upper()}_ARGS", ""))),
        )
        for name in PROVIDERS
    }
    recovery = env.get("LOKI_RECOVERY", "resume")
    if recovery not in ("resume", "fail"):
        raise ConfigError(f"LOKI_RECOVERY must be 'resume' or 'fail', got {recovery!r}")
    engine = EngineSettings(
        max_iterations=_int(env, "LOKI_MAX_ITERATIONS", 1000),
        max_retries=_int(env, "LOKI_MAX_RETRIES", 50),
        base_wait=_float(env, "LOKI_BASE_WAIT", 60.0),
        max_wait=_float(env, "LOKI_MAX_WAIT", 3600.0),
        rate_limit_default_wait=_float(env, "LOKI_RATE_LIMIT_WAIT", 300.0),
        rate_limit_margin=_float(env, "LOKI_RATE_LIMIT_MARGIN", 5.0),
        completion_promise=env.get("LOKI_COMPLETION_PROMISE") or None,
        perpetual=_flag(env, "LOKI_PERPETUAL_MODE"),
        stop_grace=_float(env, "LOKI_STOP_GRACE", 5.0),
        input_timeout=_float(env, "LOKI_INPUT_TIMEOUT", 3600.0),
        recovery=recovery,  # type: ignore[arg-type]
    )
    default_provider = env.get("LOKI_PROVIDER") or "claude"
    if default_provider not in PROVIDERS:
        raise ConfigError(
            f"LOKI_PROVIDER must be one of {', '.join(PROVIDERS)}, got {default_provider!r}"
        )
    retention = env.get("LOKI_EVENT_RETENTION")
    roots = tuple(
        Path(p).resolve() for p in env.get("LOKI_ALLOWED_ROOTS", "").split(os.pathsep) if p
    )
    values: dict[str, Any] = {
        "host": env.get("LOKI_API_HOST", DEFAULT_HOST),
        "port": _int(env, "LOKI_API_PORT", DEFAULT_PORT),
        "project_dir": Path(env.get("LOKI_PROJECT_DIR") or Path.cwd()),
        "token": env.get("LOKI_API_TOKEN") or None,
        "cors_origins": tuple(o for o in env.get("LOKI_CORS_ORIGINS", "").split(",") if o),
        "allowed_roots": roots,
        "default_provider": default_provider,
        "keepalive_interval": _float(env, "LOKI_SSE_KEEPALIVE", 15.0),
        "heartbeat_interval": _float(env, "LOKI_HEARTBEAT_INTERVAL", 10.0),
        "subscriber_buffer": _int(env, "LOKI_SSE_BUFFER", 10_000),
        "event_retention": int(retention) if retention else None,
        "providers": providers,
        "engine": engine,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["project_dir"] = Path(values["project_dir"]).resolve()
    return Settings(**values)
