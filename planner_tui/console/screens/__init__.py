"""The console's screens: the main screen (main.py, main.tcss) and the drill-downs (_common.py, drilldown.py,
impact.py, trace.py, exception.py, shortage.py; drilldown.tcss). They read the plant only through
planner_tui.access."""
