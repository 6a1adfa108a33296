"""The plant as the console sees it: one interface for every question and triage action (`PlantData`),
answered here by the in-process store (`LocalPlant`).

Layers: store <- engine <- feeds <- access <- console. Nothing here imports Textual.
"""

from planner_tui.access.interface import PlantData, PlantUnavailable, Record
from planner_tui.access.local import LocalPlant

__all__ = ["LocalPlant", "PlantData", "PlantUnavailable", "Record"]
