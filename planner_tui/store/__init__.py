"""The store: DuckDB schema (the snapshot contract), snapshot loading, event applying, triage state."""

from planner_tui.store.db import Store

__all__ = ["Store"]
