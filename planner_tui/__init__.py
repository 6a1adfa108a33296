"""planner_tui: a terminal console that closes the manufacturing Execution Gap.

Layers, one direction: ``store`` (DuckDB schema, snapshot loading, event applying, triage) <- ``engine``
(impact, schedule repair, trace, shortages, the exception inbox) <- ``feeds`` (event sources and the feed
server) <- ``access`` (what the console asks of a plant) <- ``console`` (the Textual app) and ``cli``
(typer). Nothing below ``console`` imports Textual (docs/architecture.md).
"""

__version__ = "0.1.0"
