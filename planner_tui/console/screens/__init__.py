"""The console's screens: the main screen (here) and the drill-downs (drilldown.py)."""
