"""CLI commands: `impact machine`, `impact resource`, `reschedule`, `order` (machine-stop and resource-absence
impact, plant repair, order links)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table as RichTable

from planner_tui.cli.common import (
    AsOfOption,
    AtOption,
    DbOption,
    JsonOption,
    ServerOption,
    SnapshotOption,
    StoodAtOption,
    emit_json,
    open_plant,
    parse_as_of,
    parse_at,
    short_time,
    short_times_in,
    stamp,
    stdout,
    stood,
)
from planner_tui.cli.common import table as _table
from planner_tui.present import duration, eta, slip

impact_app = typer.Typer(
    help="What a stop hits: production orders, customer lines, shipments, who to tell.", no_args_is_help=True
)


# The tables must read at 80 columns: compact times (MM-DD HH:MM), durations in hours, no box lines;
# what only fits a wide terminal (planned end, item) shows only there. `--json` has everything, in full.
_WIDE = 110


def _wide() -> bool:
    return stdout.width >= _WIDE


def _line_status(line: dict) -> str:
    """In words (OVERDUE: past its promise, LATE, LATE in plan, moved, at risk, on time) with the days
    late against the promise; colour only repeats it. The slip (how much later than planned) has its own
    column."""
    if line["late"]:
        days = f" +{line['days_late']}d" if line.get("days_late") else ""
        if line.get("overdue"):
            return f"[bold red]OVERDUE{days}[/]"
        return f"[red]LATE in plan{days}[/]" if line.get("late_in_plan") else f"[bold red]LATE{days}[/]"
    if line["slip_minutes"] > 0:
        return "[yellow]moved[/]"
    return "at risk" if line.get("at_risk") else "on time"


def counts_in_words(counts: dict) -> str:
    """The line counts of an impact or a reschedule, each saying what it counts."""
    spread = ""
    if counts["slipping"]:
        low, high = slip(counts["slip_minutes_min"]), slip(counts["slip_minutes_max"])
        spread = f" {low}" if low == high else f" {low} to {high}"
    return (
        f"{counts['turned_late']} turned late by the stop(s) · {counts['already_late_in_plan']} already late in "
        f"the plan · {counts['slipping']} slip{spread} against the plan"
    )


def _notify_table(people: list[dict]) -> RichTable:
    table = _table("Who to tell")
    table.add_column("person", no_wrap=True)
    table.add_column("role", ratio=1, overflow="fold")
    table.add_column("why", ratio=3, overflow="fold")
    for p in people:
        # One reason a line, its timestamps compacted (the engine's text, with seconds and years, is in --json).
        reasons = [short_times_in(r) for r in (p.get("reasons") or [p["why"]])]
        if len(reasons) > 1:
            reasons = [f"- {r}" for r in reasons]
        table.add_row(p["person"], p["role"], "\n".join(reasons))
    return table


def _orders_table(title: str, orders: list[dict], with_why: bool) -> RichTable:
    wide = _wide() or not with_why  # without the why there is room for both ends at 80 columns
    table = _table(title)
    table.add_column("order", no_wrap=True)
    table.add_column("item", no_wrap=True, overflow="ellipsis", max_width=None if wide else 12)
    if wide:
        table.add_column("planned end", no_wrap=True)
    table.add_column("new end", no_wrap=True)
    table.add_column("delay", justify="right", no_wrap=True)
    if with_why:
        table.add_column("why", overflow="fold", ratio=1)
    for o in orders:
        row = [o["production_order_id"], o["item_id"]]
        if wide:
            row.append(short_time(o["planned_end"]))
        row += [short_time(o["new_end"]), slip(o["delay_minutes"])]
        if with_why:
            row.append(o["why"])
        table.add_row(*row)
    return table


def _lines_table(title: str, lines: list[dict]) -> RichTable:
    wide = _wide()
    table = _table(title)
    table.add_column("line", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("slip", justify="right", no_wrap=True)
    table.add_column("ETA", no_wrap=True)
    table.add_column("promise", no_wrap=True)
    table.add_column("customer", ratio=1, overflow="fold")
    if wide:
        table.add_column("item", no_wrap=True)
    for line in lines:
        row = [
            f"{line['sales_order_id']}/{line['line_no']}",
            _line_status(line),
            slip(line["slip_minutes"]),
            eta(line),
            short_time(line["promised_date"]),
            line.get("customer_name") or line["customer_id"],
        ]
        if wide:
            row.append(line["item_id"])
        table.add_row(*row)
    return table


@impact_app.command("machine")
def impact_machine(
    machine_id: Annotated[str, typer.Argument(help="The machine that stops.")],
    at: AtOption = None,
    as_of: AsOfOption = None,
    down_minutes: Annotated[
        Optional[float],
        typer.Option("--down-minutes", help="How long it is down (default: as recorded, else unknown)."),
    ] = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """A machine stops: which orders, customer lines, shipments and customers are hit, and who to tell."""
    with open_plant(db, snapshot, server) as plant:
        result = plant.machine_impact(
            machine_id, at=parse_at(at), down_minutes=down_minutes, as_of=parse_as_of(as_of, at)
        )
    if json:
        emit_json(result)
        return
    if result["downtime_known"]:
        downtime = f"down {duration(result['down_minutes'])} until {stamp(result['stop_end'])}"
    else:
        downtime = "downtime UNKNOWN: showing what is exposed, no delays computed"
    stdout.print(f"[bold]{machine_id}[/] stops at {stamp(result['stop_start'])}, {downtime}")
    _print_impact(result)


def _operations_table(title: str, operations: list[dict]) -> RichTable:
    table = _table(title)
    for column in ("order", "op", "machine", "planned start", "new end", "delay"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("op", "delay") else "left")
    for op in operations:
        table.add_row(
            op["production_order_id"],
            str(op["op_seq"]),
            op["machine_id"],
            short_time(op["planned_start"]),
            short_time(op["new_end"]),
            slip(op["delay_minutes"]),
        )
    return table


def _print_impact(result: dict, *, operations: str | None = None) -> None:
    """What a stop hits, below its headline: `impact machine` and `impact resource` alike; with
    `operations`, the stop's own operations first, under that title."""
    stdout.print(
        f"{len(result['operations'])} operation(s) hit, {len(result['production_orders'])} production order(s), "
        f"{len(result['sales_orders'])} customer line(s)"
    )
    stdout.print("Customer lines: " + counts_in_words(result["counts"]), highlight=False)
    if operations is not None and result["operations"]:
        stdout.print(_operations_table(operations, result["operations"]))
    stdout.print(_orders_table("Production orders", result["production_orders"], with_why=True))
    stdout.print(_lines_table("Customer lines", result["sales_orders"]))
    shipments = _table("Open shipments")
    for name in ("shipment", "line", "planned ship", "status", "ETA"):
        shipments.add_column(name, no_wrap=True)
    for s in result["shipments"]:
        shipments.add_row(
            s["shipment_id"],
            f"{s['sales_order_id']}/{s['line_no']}",
            short_time(s["planned_ship_date"]),
            s["status"],
            ("[bold red]LATE[/] " if s["late"] else "") + eta(s),
        )
    stdout.print(shipments)
    customers = _table("Customers")
    customers.add_column("customer", no_wrap=True)
    customers.add_column("name", ratio=1, overflow="fold")
    customers.add_column("account manager", ratio=1, overflow="fold")
    customers.add_column("late lines", ratio=1, overflow="fold")
    for c in result["customers"]:
        customers.add_row(
            c["customer_id"], c["name"] or "", c["account_manager"] or "", ", ".join(c["late_lines"]) or "none"
        )
    stdout.print(customers)
    stdout.print(_notify_table(result["notify"]))


@impact_app.command("resource")
def impact_resource(
    resource_id: Annotated[str, typer.Argument(help="The person, tool or crew that is unavailable.")],
    at: AtOption = None,
    as_of: AsOfOption = None,
    down_minutes: Annotated[
        Optional[float],
        typer.Option("--down-minutes", help="How long it is unavailable (default: as recorded, else unknown)."),
    ] = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """A person, tool or crew is unavailable: which operations need it, and which orders, customer lines,
    shipments and customers that hits, and who to tell."""
    with open_plant(db, snapshot, server) as plant:
        result = plant.resource_impact(
            resource_id, at=parse_at(at), down_minutes=down_minutes, as_of=parse_as_of(as_of, at)
        )
    if json:
        emit_json(result)
        return
    if result["downtime_known"]:
        length = f"for {duration(result['down_minutes'])} until {stamp(result['stop_end'])}"
    else:
        length = "length UNKNOWN: showing what is exposed, no delays computed"
    name = f" ({result['resource_name']})" if result["resource_name"] else ""
    stdout.print(
        f"[bold]{resource_id}[/]{name}, {result['resource_kind']}, unavailable from "
        f"{stamp(result['stop_start'])}, {length}",
        highlight=False,
    )
    _print_impact(result, operations="Operations needing it")


def reschedule_cmd(
    at: AtOption = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """Repair the whole plant around every stopped machine: new order ends and the customer lines at risk."""
    with open_plant(db, snapshot, server) as plant:
        result = plant.reschedule(at=parse_at(at))
    if json:
        emit_json(result)
        return
    if not result["stops"]:
        stdout.print("No machine is stopped: the plan stands.")
    for stop in result["stops"]:
        downtime = f"down {duration(stop['minutes'])}" if stop["downtime_known"] else "UNKNOWN downtime (not repaired)"
        stdout.print(f"[bold]{stop['machine_id']}[/] stopped at {stamp(stop['start'])}, {downtime}")
    at_risk = result["lines_at_risk"]
    stdout.print(f"{len(result['production_orders'])} production order(s) end later")
    stdout.print("Customer lines: " + counts_in_words(result["counts"]), highlight=False)
    if result["production_orders"]:
        shown = result["production_orders"][:200]
        title = "Production orders that end later" + (
            f" (worst {len(shown)}; --json for all)" if len(shown) < len(result["production_orders"]) else ""
        )
        stdout.print(_orders_table(title, shown, with_why=False))
    if at_risk:
        stdout.print(_lines_table("Customer lines at risk", at_risk))
    if result["notify"]:
        stdout.print(_notify_table(result["notify"]))


def order_cmd(
    order_id: Annotated[str, typer.Argument(help="A production order, a sales order, or a line as SO/line.")],
    at: StoodAtOption = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """Any order: what feeds it, what it feeds, the customer lines, shipments and customers behind it."""
    when = parse_at(at)
    with open_plant(db, snapshot, server) as plant:
        result = plant.order_links(order_id, at=when)
    if json:
        emit_json(result)
        return
    if result["kind"] == "production_order":
        o = result["production_order"]
        stdout.print(
            f"[bold]{order_id}[/] {o['item_id']} x{o['qty']:g}, {o['status']}, "
            f"{stamp(o['planned_start'])} -> {stamp(o['planned_end'])}{stood(when)}",
            highlight=False,
        )
        ops = _table("Operations")
        ops.add_column("seq", justify="right", no_wrap=True)
        ops.add_column("machine", no_wrap=True)
        ops.add_column("planned start", no_wrap=True)
        ops.add_column("planned end", no_wrap=True)
        ops.add_column("status", no_wrap=True, max_width=14, overflow="ellipsis")
        for op in result["operations"]:
            ops.add_row(
                str(op["op_seq"]),
                op["machine_id"],
                short_time(op["planned_start"]),
                short_time(op["planned_end"]),
                op["status"],
            )
        stdout.print(ops)
        chain = " -> ".join([order_id] + [p["production_order_id"] for p in result["feeds"]])
        stdout.print(f"feeds: {chain if result['feeds'] else 'nothing (top level)'}", highlight=False)
        roots = result["fed_by"]
    else:
        roots = result["production_orders"]
        stdout.print(
            f"[bold]{order_id}[/]: made by "
            + (", ".join(p["production_order_id"] for p in roots) or "no production order")
            + stood(when),
            highlight=False,
        )

    def show(tree: list[dict], depth: int) -> None:
        for node in tree:
            stdout.print(
                "  " * depth + f"- {node['production_order_id']} {node['item_id']} {node['status']} "
                f"ends {stamp(node['planned_end'])}",
                highlight=False,
            )
            show(node.get("fed_by", []), depth + 1)

    if roots:
        stdout.print("fed by:" if result["kind"] == "production_order" else "production orders and their feeders:")
        show(roots, 1)
    lines = _table("Customer lines")
    lines.add_column("line", no_wrap=True)
    lines.add_column("customer", ratio=1, min_width=16)
    lines.add_column("item", no_wrap=True, max_width=14, overflow="ellipsis")
    lines.add_column("qty", justify="right", no_wrap=True)
    lines.add_column("promised", no_wrap=True)
    lines.add_column("status", no_wrap=True, max_width=12, overflow="ellipsis")
    for line in result["sales_order_lines"]:
        lines.add_row(
            f"{line['sales_order_id']}/{line['line_no']}",
            line["customer_name"] or line["customer_id"],
            line["item_id"],
            f"{line['qty']:g}",
            short_time(line["promised_date"]),
            line["status"],
        )
    stdout.print(lines)
    ships = _table("Shipments")
    for name in ("shipment", "line", "planned ship", "status"):
        ships.add_column(name, no_wrap=True)
    for s in result["shipments"]:
        ships.add_row(
            s["shipment_id"], f"{s['sales_order_id']}/{s['line_no']}", short_time(s["planned_ship_date"]), s["status"]
        )
    stdout.print(ships)
    for c in result["customers"]:
        stdout.print(
            f"customer {c['customer_id']} {c['name'] or ''}: account manager {c['account_manager'] or '-'}",
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(impact_app, name="impact")
    app.command("reschedule")(reschedule_cmd)
    app.command("order")(order_cmd)
