"""Notifications (issue 12), the engine's half: who is told what, when, and what the message says.

`route.py` (who and why: the engine's notify lists and the routing rules), `compose.py` (the message),
`plan.py` (grouping, pacing, updates, repeats, folding, escalation: `plan_notifications`, and
`route_test`, the same answer without sending). The plant server's notifier writes what they plan to the
outbox (store/outbox.py) and delivers it (server/notifier.py).
"""

from planner_tui.engine.notify.plan import next_due, plan_notifications, route_test

__all__ = ["next_due", "plan_notifications", "route_test"]
