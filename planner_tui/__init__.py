"""planner_tui: a terminal console that closes the manufacturing Execution Gap.

Layers, one direction: ``store`` (DuckDB schema, snapshot loading, event applying) <- ``engine``
(impact, schedule repair, trace, shortages) <- ``feeds`` (event sources and the feed server) <-
``console`` (the Textual app) and ``cli`` (typer). Nothing below ``console`` imports Textual.
"""

__version__ = "0.1.0"
