"""CLI commands: `impact machine`, `reschedule`, `order` (machine-stop impact, plant repair, order links)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table as RichTable

from planner_tui.cli.common import AtOption, DbOption, JsonOption, SnapshotOption, emit_json, open_store, stdout
from planner_tui.timeutil import iso, parse_timestamp

impact_app = typer.Typer(help="What a stop hits: production orders, customer lines, shipments, who to tell.",
                         no_args_is_help=True)


def _at(at: str | None):
    return None if at is None else parse_timestamp(at, what="--at timestamp")


def _minutes(value: float) -> str:
    return f"+{value:g} min" if value > 0 else "on time"


def _late(flag: bool | None) -> str:
    return "[bold red]LATE[/]" if flag else "on time"


def _notify_table(people: list[dict]) -> RichTable:
    table = RichTable(title="Who to tell", title_justify="left")
    for name in ("person", "role", "why"):
        table.add_column(name, overflow="fold")
    for p in people:
        table.add_row(p["person"], p["role"], p["why"])
    return table


def _orders_table(title: str, orders: list[dict], with_why: bool) -> RichTable:
    table = RichTable(title=title, title_justify="left")
    for name in ("production order", "item", "planned end", "new end", "delay"):
        table.add_column(name, justify="right" if name == "delay" else "left")
    if with_why:
        table.add_column("why")
    for o in orders:
        row = [o["production_order_id"], o["item_id"], iso(o["planned_end"]), iso(o["new_end"]), _minutes(o["delay_minutes"])]
        if with_why:
            row.append(o["why"])
        table.add_row(*row)
    return table


def _lines_table(title: str, lines: list[dict]) -> RichTable:
    table = RichTable(title=title, title_justify="left")
    for name in ("sales order line", "customer", "item", "promised", "ETA", "slip", "status"):
        table.add_column(name)
    for line in lines:
        table.add_row(
            f"{line['sales_order_id']}/{line['line_no']}",
            line.get("customer_name") or line["customer_id"],
            line["item_id"],
            iso(line["promised_date"]),
            iso(line["eta"]) or "-",
            _minutes(line["slip_minutes"]),
            _late(line["late"]) + (" (already in plan)" if line["late"] and line["late_in_plan"] else ""),
        )
    return table


@impact_app.command("machine")
def impact_machine(
    machine_id: Annotated[str, typer.Argument(help="The machine that stops.")],
    at: AtOption = None,
    down_minutes: Annotated[
        Optional[float], typer.Option("--down-minutes", help="How long it is down (default: as recorded, else unknown).")
    ] = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
) -> None:
    """A machine stops: which orders, customer lines, shipments and customers are hit, and who to tell."""
    from planner_tui.engine.impact import machine_impact

    when = _at(at)
    with open_store(db, snapshot, read_only=True) as store:
        result = machine_impact(store.cursor(), machine_id, at=when, down_minutes=down_minutes)
    if json:
        emit_json(result)
        return
    downtime = f"down {result['down_minutes']:g} min until {iso(result['stop_end'])}" if result["downtime_known"] \
        else "downtime UNKNOWN: showing what is exposed, no delays computed"
    stdout.print(f"[bold]{machine_id}[/] stops at {iso(result['stop_start'])}, {downtime}")
    stdout.print(
        f"{len(result['operations'])} operation(s) on the machine hit, {len(result['production_orders'])} production "
        f"order(s), {len(result['sales_orders'])} customer line(s), {result['late_lines']} LATE"
    )
    stdout.print(_orders_table("Production orders", result["production_orders"], with_why=True))
    stdout.print(_lines_table("Customer lines", result["sales_orders"]))
    shipments = RichTable(title="Open shipments", title_justify="left")
    for name in ("shipment", "sales order line", "planned ship", "status", "ETA"):
        shipments.add_column(name)
    for s in result["shipments"]:
        shipments.add_row(s["shipment_id"], f"{s['sales_order_id']}/{s['line_no']}", iso(s["planned_ship_date"]),
                          s["status"], ("[bold red]LATE[/] " if s["late"] else "") + (iso(s["eta"]) or "-"))
    stdout.print(shipments)
    customers = RichTable(title="Customers", title_justify="left")
    for name in ("customer", "name", "account manager", "late lines"):
        customers.add_column(name)
    for c in result["customers"]:
        customers.add_row(c["customer_id"], c["name"] or "", c["account_manager"] or "", ", ".join(c["late_lines"]) or "none")
    stdout.print(customers)
    stdout.print(_notify_table(result["notify"]))


def reschedule_cmd(
    at: AtOption = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
) -> None:
    """Repair the whole plant around every stopped machine: new order ends and the lines that turn late."""
    from planner_tui.engine.impact import reschedule

    when = _at(at)
    with open_store(db, snapshot, read_only=True) as store:
        result = reschedule(store.cursor(), at=when)
    if json:
        emit_json(result)
        return
    if not result["stops"]:
        stdout.print("No machine is stopped: the plan stands.")
    for stop in result["stops"]:
        downtime = f"{stop['minutes']:g} min" if stop["downtime_known"] else "UNKNOWN downtime (not repaired)"
        stdout.print(f"[bold]{stop['machine_id']}[/] stopped at {iso(stop['start'])}, {downtime}")
    stdout.print(f"{len(result['production_orders'])} production order(s) end later; "
                 f"{len(result['sales_orders'])} customer line(s) turn LATE")
    if result["production_orders"]:
        shown = result["production_orders"][:200]
        title = "Production orders that end later" + (f" (worst {len(shown)}; --json for all)" if len(shown) < len(result["production_orders"]) else "")
        stdout.print(_orders_table(title, shown, with_why=False))
    if result["sales_orders"]:
        stdout.print(_lines_table("Customer lines that turn late", result["sales_orders"]))
    if result["notify"]:
        stdout.print(_notify_table(result["notify"]))


def order_cmd(
    order_id: Annotated[str, typer.Argument(help="A production order, a sales order, or a line as SO/line.")],
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
) -> None:
    """Any order: what feeds it, what it feeds, the customer lines, shipments and customers behind it."""
    from planner_tui.engine.orders import order_links

    with open_store(db, snapshot, read_only=True) as store:
        result = order_links(store.cursor(), order_id)
    if json:
        emit_json(result)
        return
    if result["kind"] == "production_order":
        o = result["production_order"]
        stdout.print(f"[bold]{order_id}[/] {o['item_id']} x{o['qty']:g}, {o['status']}, "
                     f"{iso(o['planned_start'])} -> {iso(o['planned_end'])}")
        ops = RichTable(title="Operations", title_justify="left")
        for name in ("seq", "machine", "planned start", "planned end", "status"):
            ops.add_column(name)
        for op in result["operations"]:
            ops.add_row(str(op["op_seq"]), op["machine_id"], iso(op["planned_start"]), iso(op["planned_end"]), op["status"])
        stdout.print(ops)
        chain = " -> ".join([order_id] + [p["production_order_id"] for p in result["feeds"]])
        stdout.print(f"feeds: {chain if result['feeds'] else 'nothing (top level)'}")
        roots = result["fed_by"]
    else:
        roots = result["production_orders"]
        stdout.print(f"[bold]{order_id}[/]: made by " + (", ".join(p["production_order_id"] for p in roots) or "no production order"))

    def show(tree: list[dict], depth: int) -> None:
        for node in tree:
            stdout.print("  " * depth + f"- {node['production_order_id']} {node['item_id']} {node['status']} "
                         f"ends {iso(node['planned_end'])}")
            show(node.get("fed_by", []), depth + 1)

    if roots:
        stdout.print("fed by:" if result["kind"] == "production_order" else "production orders and their feeders:")
        show(roots, 1)
    lines = RichTable(title="Customer lines", title_justify="left")
    for name in ("line", "customer", "item", "qty", "promised", "status"):
        lines.add_column(name)
    for line in result["sales_order_lines"]:
        lines.add_row(f"{line['sales_order_id']}/{line['line_no']}", line["customer_name"] or line["customer_id"],
                      line["item_id"], f"{line['qty']:g}", iso(line["promised_date"]), line["status"])
    stdout.print(lines)
    ships = RichTable(title="Shipments", title_justify="left")
    for name in ("shipment", "line", "planned ship", "status"):
        ships.add_column(name)
    for s in result["shipments"]:
        ships.add_row(s["shipment_id"], f"{s['sales_order_id']}/{s['line_no']}", iso(s["planned_ship_date"]), s["status"])
    stdout.print(ships)
    for c in result["customers"]:
        stdout.print(f"customer {c['customer_id']} {c['name'] or ''}: account manager {c['account_manager'] or '-'}")


def register(app: typer.Typer) -> None:
    app.add_typer(impact_app, name="impact")
    app.command("reschedule")(reschedule_cmd)
    app.command("order")(order_cmd)
