"""The shift screen (`h`): `planner-tui report shift` as a tree to walk. Each section of the handover is a
group; Enter on an exception, a stop, a hold, a late line or a shortage opens its drill-down. The window is
the shift now running by the plant's calendar, up to the console's clock (or the time slider's moment)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from planner_tui.access import PlantData, Record
from planner_tui.console.screens._common import add_record, capped, group, node_label
from planner_tui.console.screens.drilldown import Node, TreeScreen
from planner_tui.present import duration, eta, moment, seconds, short_time

SEVERITY_STYLES = {"critical": "bold red", "high": "bold yellow", "medium": "yellow"}


class ShiftScreen(TreeScreen):
    kind = "shift"

    def __init__(self) -> None:
        super().__init__("shift")

    @property
    def crumb(self) -> str:
        return "shift handover"

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        return plant.shift_report(at=at)

    def summary(self, data: Record) -> Text:
        window = data["window"]
        feed = data["feed"]
        text = Text.assemble(
            ("Shift handover ", "bold"),
            f"{moment(window['from'])} to {moment(window['to'])} UTC ({window['basis']})\n",
        )
        text.append(
            f"{len(data['attention'])} open, {len(data['stops'])} stop(s), {len(data['holds'])} hold(s), "
            f"{len(data['late_lines'])} line(s) made late, {len(data['recovered_lines'])} recovered, "
            f"{len(data['shortages'])} shortage(s); "
            f"feed: {feed['events']} events, {feed['rejected']} rejected, lag median {seconds(feed['lag_seconds']['p50'])}"
        )
        return text

    def root_label(self, data: Record) -> Text:
        return Text(data.get("plant") or "the plant", style="bold")

    def build(self, root: Node, data: Record) -> None:
        attention = data["attention"]
        node = group(root, "Needs attention now", attention, empty="nothing open")
        for item in capped(node, attention):
            step = f"next: {item['next_step']} ({item['next_step_by']})" if item.get("next_step") else None
            # As the inbox: the short facts first, the title after them (a narrow tree cuts its end).
            label = node_label(
                (item["severity"], SEVERITY_STYLES.get(item["severity"], "")),
                duration(item.get("age_minutes")),
                (item.get("status"), "dim"),
                item.get("assignee") or item.get("owner") or "nobody",
                item["title"],
                (step, "italic"),
            )
            node.add_leaf(label, data=("exception", item["exception_id"]))

        stops = data["stops"]
        node = group(root, "Machine stops", stops, empty="no machine stopped")
        for stop in capped(node, stops):
            how_long = (
                f"{short_time(stop['down_at'])}-{short_time(stop['up_at'])} ({duration(stop['minutes'])}, over)"
                if stop.get("over")
                else f"down since {short_time(stop['down_at'])} ({duration(stop['minutes'])}, still down)"
            )
            risk = f"{stop['late_lines']} of {stop['sales_lines']} lines late" if stop.get("sales_lines") else None
            label = node_label((stop["machine_id"], "bold"), how_long, stop.get("reason"), (risk, "bold red"))
            node.add_leaf(label, data=("machine", stop["machine_id"]))

        holds = data["holds"]
        node = group(root, "Quality holds", holds, empty="no hold")
        for hold in capped(node, holds):
            shipped = hold.get("shipped_shipments") or []
            label = node_label(
                (hold["hold_id"], "bold"),
                hold["lot_id"],
                f"released {short_time(hold['released_at'])}" if hold.get("released_at") else hold.get("status"),
                f"{hold.get('lots_reached') or 0} lot(s)",
                (f"SHIPPED in {', '.join(shipped)}", "bold red") if shipped else "not shipped",
            )
            add_record(
                node, label, {"hold_id": hold["hold_id"], "lot_id": hold["lot_id"]}, own=("hold", hold["hold_id"])
            )

        late = data["late_lines"]
        node = group(root, "Customer lines made late", late, empty="none")
        for line in capped(node, late):
            label = node_label(
                (line["line"], "bold"),
                line.get("customer"),
                f"promised {line.get('promised_date')}",
                f"ETA {eta(line)}",
                (f"{line.get('days_late')}d late", "bold red"),
                f"cause: {line.get('cause') or '?'}",
            )
            node.add_leaf(label, data=("sales_order", line["line"]))

        recovered = data["recovered_lines"]
        node = group(root, "Customer lines recovered", recovered, empty="none", expand=bool(recovered))
        for line in capped(node, recovered):
            label = node_label((line["line"], "bold"), line.get("customer"), f"promised {line.get('promised_date')}")
            node.add_leaf(label, data=("sales_order", line["line"]))

        shortages = data["shortages"]
        node = group(root, "Shortages", shortages, empty="none")
        for short in capped(node, shortages):
            found = f"found {short_time(short['found_at'])}" if short.get("found_in_window") else "known before"
            lead = short.get("lead_hours")
            label = node_label(
                (short["item_id"], "bold"),
                f"short from {short_time(short.get('short_at'))}",
                found,
                f"{duration(None if lead is None else lead * 60)} ahead",
                f"buyer {short.get('buyer') or 'nobody'}",
            )
            node.add_leaf(label, data=("item", short["item_id"]))

        orders = data["orders"]
        entries: list[tuple[str, Record]] = [
            *(("confirmed", o) for o in orders["confirmed"]),
            *(("changed", o) for o in orders["changed"]),
            *(("cancelled", o) for o in orders["cancelled"]),
        ]
        node = group(root, "Customer orders", entries, empty="no order confirmed, changed or cancelled", expand=False)
        for what, order in capped(node, entries):
            extra = f"visible after {seconds(order.get('lag_seconds'))}" if what == "confirmed" else None
            label = node_label((what, "bold"), order["line"], short_time(order["at"]), extra)
            node.add_leaf(label, data=("sales_order", order["line"]))

        actions = data["actions"]
        node = group(root, "What was done", actions, empty="no triage recorded", expand=False)
        for person in actions:
            who = node.add(node_label((person["who"], "bold"), f"{person['count']} action(s)"), data=None)
            for action in capped(who, person["actions"]):
                label = node_label(
                    short_time(action["acted_at"]),
                    (action["action"], "bold"),
                    action["exception_id"],
                    action.get("detail"),
                )
                who.add_leaf(label, data=("exception", action["exception_id"]))

        told = data["told"]
        node = group(root, "Who was told", told, empty="no message in the window", expand=False)
        for message in capped(node, told):
            label = node_label(
                short_time(message["created_at"]),
                (message["person"], "bold"),
                message["channel"],
                message["subject"],
                message["state"],
            )
            node.add_leaf(label, data=("exception", message["exception_id"]))

        feed: dict[str, Any] = data["feed"]
        problems = [*feed["silences"], *feed["rejections"]]
        node = group(root, "Feed health", problems, empty="no silence, nothing rejected", expand=False)
        for silence in feed["silences"]:
            node.add_leaf(
                node_label(
                    "no events",
                    f"{short_time(silence['from'])}-{short_time(silence['to'])}",
                    duration(silence["minutes"]),
                )
            )
        for rejection in feed["rejections"]:
            node.add_leaf(
                node_label(("rejected", "bold red"), rejection["event_id"], rejection.get("type"), rejection["reason"])
            )
