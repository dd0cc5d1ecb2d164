"""Loki Mode: the control plane for autonomous coding-agent sessions."""

__version__ = "0.1.0"
