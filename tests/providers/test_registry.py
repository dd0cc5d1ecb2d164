"""What the engine may rely on from every registered provider."""

from __future__ import annotations

from loki_mode.providers import PROVIDERS
from loki_mode.providers.base import Provider
from loki_mode.providers.claude import ClaudeProvider
from loki_mode.providers.codex import CodexProvider
from loki_mode.providers.gemini import GeminiProvider


def test_registry_holds_the_three_providers_by_name() -> None:
    assert sorted(PROVIDERS) == ["claude", "codex", "gemini"]
    assert all(name == provider.name for name, provider in PROVIDERS.items())


def test_fatal_exit_codes() -> None:
    providers: list[Provider] = [ClaudeProvider(), CodexProvider(), GeminiProvider()]
    codes = {p.name: p.fatal_exit_codes for p in providers}
    # Gemini CLI: FatalAuthenticationError, FatalInputError, FatalSandboxError, FatalConfigError.
    assert codes == {"claude": frozenset(), "codex": frozenset(), "gemini": {41, 42, 44, 52}}
    assert all(isinstance(c, frozenset) for c in codes.values())
    assert 0 not in set().union(*codes.values())  # success is never fatal
