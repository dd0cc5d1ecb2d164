"""Persistence: the store interface and its embedded SQLite implementation."""

from loki_mode.store.base import Control, Store, StoreTx, TaskChange
from loki_mode.store.sqlite import SQLiteStore

__all__ = ["Control", "SQLiteStore", "Store", "StoreTx", "TaskChange"]
