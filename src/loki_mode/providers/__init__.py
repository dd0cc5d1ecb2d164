"""Provider adapters: how to run each CLI and how to read what it prints."""

from loki_mode.providers.base import Provider
from loki_mode.providers.claude import ClaudeProvider
from loki_mode.providers.codex import CodexProvider
from loki_mode.providers.gemini import GeminiProvider

PROVIDERS: dict[str, Provider] = {
    p.name: p for p in (ClaudeProvider(), CodexProvider(), GeminiProvider())
}

__all__ = ["PROVIDERS", "Provider"]
