from planner_tui.cli import main

main()
