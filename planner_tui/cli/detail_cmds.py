"""CLI commands: `shipment`, `customer`, `machine`, `resource` (the console's shipment, customer, machine and
resource details), `machines` and `holds` (its machine and quality-hold panels)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from planner_tui.cli.common import (
    ID,
    NUMBER,
    SIDE,
    TEXT,
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
    stamp,
    stdout,
    stood,
    table,
)
from planner_tui.present import duration, quantity
from planner_tui.timeutil import iso


def _span(start, end) -> str:
    """start -> end in table form, the end's day left out when it is the start's."""
    if start is not None and end is not None and start.date() == end.date():
        return f"{short_time(start)} -> {end.strftime('%H:%M')}"
    return f"{short_time(start)} -> {short_time(end)}"


def _line_id(record: dict) -> str:
    return f"{record['sales_order_id']}/{record['line_no']}" if record.get("sales_order_id") else "-"


def _holds_table(title: str, holds: list[dict], reach_column: str, reach_key: str) -> RichTable:
    # The ids it reaches wrap between ids, never inside one: the column is at least as wide as the longest.
    longest = max((len(reached) for h in holds for reached in h[reach_key]), default=len(reach_column))
    listing = table(
        title, ("hold", ID), ("held lot", ID), ("placed", ID), ("reason", TEXT), (reach_column, {"min_width": longest})
    )
    for h in holds:
        listing.add_row(
            f"[bold red]{h['hold_id']}[/]",
            h["lot_id"],
            short_time(h["placed_at"]),
            h["reason"] or "-",
            ", ".join(h[reach_key]),
        )
    return listing


def shipment_cmd(
    shipment_id: Annotated[str, typer.Argument(help="The shipment id.")],
    at: StoodAtOption = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """A shipment: its order line, customer, carrier, lots with their status and any active quality holds."""
    when = parse_at(at)
    with open_plant(db, snapshot, server) as plant:
        result = plant.shipment(shipment_id, at=when)
    if json:
        emit_json(result)
        return
    s, line, customer = result["shipment"], result["sales_order_line"], result["customer"]
    stdout.print(
        f"[bold]shipment {s['shipment_id']}[/] {s['status']}, ship {iso(s['planned_ship_date'])}, "
        f"qty {quantity(s['qty'])}, carrier {s['carrier'] or '-'}{stood(when)}",
        highlight=False,
    )
    if line:
        stdout.print(
            f"order line {_line_id(line)}: {line['item_id']} x{quantity(line['qty'])}, "
            f"promised {iso(line['promised_date'])}, {line['status']}",
            highlight=False,
        )
    else:
        stdout.print(f"order line {_line_id(s)}: not in sales_orders", highlight=False)
    if customer:
        stdout.print(
            f"customer {customer['customer_id']} {customer['name'] or ''} (tier {customer['tier'] or '-'}), "
            f"account manager {customer['account_manager'] or '-'}",
            highlight=False,
        )
    lots = table(
        "Lots",
        ("lot", ID),
        ("item", ID),
        ("qty", NUMBER),
        ("lot status", SIDE),
        ("active hold", {"ratio": 1, "min_width": 12}),
    )
    for lot in result["lots"]:
        held = ", ".join(h["hold_id"] for h in lot["holds"])
        lots.add_row(
            lot["lot_id"],
            lot["item_id"] or "-",
            quantity(lot["qty"]),
            lot["status"] or "-",
            f"[bold red]ON HOLD {held}[/]" if held else "none",
        )
    stdout.print(lots if result["lots"] else "Lots: none recorded")
    if result["upstream_holds"]:
        stdout.print(
            _holds_table(
                "Active holds on lots they were made from", result["upstream_holds"], "reaches", "shipped_lot_ids"
            )
        )


def customer_cmd(
    customer_id: Annotated[str, typer.Argument(help="The customer id.")],
    at: AtOption = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """A customer: open order lines and the orders made for them, open and recent shipments, active holds."""
    with open_plant(db, snapshot, server) as plant:
        result = plant.customer(customer_id, at=parse_at(at))
    if json:
        emit_json(result)
        return
    c, summary = result["customer"], result["summary"]
    stdout.print(
        f"[bold]customer {c['customer_id']}[/] {c['name'] or ''}, tier {c['tier'] or '-'}, "
        f"account manager {c['account_manager'] or '-'}",
        highlight=False,
    )
    stdout.print(
        f"{summary['open_lines']} open line(s) ({summary['overdue_lines']} overdue at {stamp(result['at'])}), "
        f"{summary['open_shipments']} open shipment(s), {summary['closed_shipments']} shipped, "
        f"{summary['active_holds']} active hold(s) reaching it",
        highlight=False,
    )
    lines = table(
        "Open order lines",
        ("line", ID),
        ("item", SIDE),
        ("qty", NUMBER),
        ("promised", {"min_width": 8}),
        ("made by", {"ratio": 1, "min_width": 21}),
    )
    for line in result["open_lines"]:
        promised = short_time(line["promised_date"]) + (" [bold red]OVERDUE[/]" if line["overdue"] else "")
        made = ", ".join(f"{p['production_order_id']} {p['status']}" for p in line["production_orders"])
        lines.add_row(_line_id(line), line["item_id"], quantity(line["qty"]), promised, made or "from stock")
    stdout.print(lines if result["open_lines"] else "Open order lines: none")
    shipments = table(
        f"Shipments (open, and the newest {summary['recent_shipments_shown']} shipped)",
        ("shipment", ID),
        ("status", SIDE),
        ("ship", {"min_width": 8}),
        ("line", ID),
        ("carrier", {**SIDE, "max_width": 18}),
    )
    for s in result["shipments"]:
        when = short_time(s["planned_ship_date"]) + (" [bold red]OVERDUE[/]" if s["overdue"] else "")
        shipments.add_row(s["shipment_id"], s["status"], when, _line_id(s), s["carrier"] or "-")
    stdout.print(shipments if result["shipments"] else "Shipments: none")
    if result["holds"]:
        stdout.print(
            _holds_table("Active quality holds reaching its shipments", result["holds"], "shipments", "shipment_ids")
        )


def _state_line(record: dict, *, stopped: bool) -> str:
    """A machine's or a resource's state, since when (and how long at `at`) and why: STOPPED in red."""
    state = f"[bold red]{record['state'].upper()}[/]" if stopped else record["state"]
    if record["since"] is not None:
        state += f" since {stamp(record['since'])}"
        if record["state_minutes"] is not None:
            state += f" ({duration(record['state_minutes'], unknown='unknown')} at {stamp(record['at'])})"
    if record["reason"]:
        state += f": {record['reason']}"
    return state


def machine_cmd(
    machine_id: Annotated[str, typer.Argument(help="The machine id.")],
    at: AtOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many of its next open operations to show.")] = 10,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """A machine: its state, since when and why, and its next open operations."""
    with open_plant(db, snapshot, server) as plant:
        result = plant.machine(machine_id, at=parse_at(at), limit=limit)
    if json:
        emit_json(result)
        return
    m = result
    where = ", ".join(part for part in (m["work_center"], m["line"], m["plant"]) if part)
    stdout.print(
        f"[bold]machine {m['machine_id']}[/] {m['name'] or ''}" + (f" ({where})" if where else ""), highlight=False
    )
    stdout.print(_state_line(m, stopped=m["stopped"]), highlight=False)
    people = f"supervisor {m['supervisor'] or '-'}; {m['open_operations']} open operation(s)"
    if m["stopped"]:
        expected = duration(m["expected_minutes"], unknown="unknown")
        people = f"expected length {expected}; " + people
    stdout.print(people, highlight=False)
    ops = table(
        f"Next open operations ({len(m['next_operations'])} of {m['open_operations']})",
        ("order", ID),
        ("op", NUMBER),
        ("status", {**SIDE, "max_width": 11}),
        ("planned", ID),
        ("item", {**SIDE, "max_width": 12}),
        ("for line", ID),
    )
    for op in m["next_operations"]:
        ops.add_row(
            op["production_order_id"],
            str(op["op_seq"]),
            op["status"],
            _span(op["planned_start"], op["planned_end"]),
            op["item_id"] or "-",
            _line_id(op),
        )
    stdout.print(ops if m["next_operations"] else "Next open operations: none")


def resource_cmd(
    resource_id: Annotated[str, typer.Argument(help="The resource id (a person, tool or crew).")],
    at: AtOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many of its next open operations to show.")] = 10,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """A person, tool or crew operations need: its state, since when and why, and its next open operations."""
    with open_plant(db, snapshot, server) as plant:
        result = plant.resource(resource_id, at=parse_at(at), limit=limit)
    if json:
        emit_json(result)
        return
    r = result
    stdout.print(f"[bold]{r['kind']} {r['resource_id']}[/] {r['name'] or ''}", highlight=False)
    stdout.print(_state_line(r, stopped=r["unavailable"]), highlight=False)
    calendar = r["calendar_id"] or "the plant's"
    on = f" on {', '.join(r['machines'])}" if r["machines"] else ""
    people = f"supervisor {r['supervisor'] or '-'}; calendar {calendar}; {r['open_operations']} open operation(s){on}"
    if r["unavailable"]:
        people = f"expected length {duration(r['expected_minutes'], unknown='unknown')}; " + people
    stdout.print(people, highlight=False)
    ops = table(
        f"Next open operations ({len(r['next_operations'])} of {r['open_operations']})",
        ("order", ID),
        ("op", NUMBER),
        ("machine", ID),
        ("planned", ID),
        ("for line", ID),
        ("customer", SIDE),
    )
    for op in r["next_operations"]:
        running = " [bold]running[/]" if op["status"] == "running" else ""  # running ones come first
        ops.add_row(
            op["production_order_id"],
            str(op["op_seq"]),
            op["machine_id"],
            _span(op["planned_start"], op["planned_end"]) + running,
            _line_id(op),
            op["customer_name"] or op["customer_id"] or "-",
        )
    stdout.print(ops if r["next_operations"] else "Next open operations: none")


def machines_cmd(
    stopped: Annotated[
        bool, typer.Option("--stopped", help="Only the machines that are down or in maintenance.")
    ] = False,
    at: AtOption = None,
    as_of: AsOfOption = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """Every machine and its state, stopped ones first (longest stopped first): the console's machine panel."""
    from planner_tui.timeutil import resolve_now

    past = parse_as_of(as_of, at)
    now = past or resolve_now(at)
    with open_plant(db, snapshot, server) as plant:
        result = plant.machines(stopped_only=stopped, as_of=past)
    if json:
        emit_json(result)
        return
    listing = table(
        f"Machines {'as they stood at' if past else 'at'} {stamp(now)}",
        ("machine", ID),
        ("state", ID),
        ("stopped for", ID),
        ("why", TEXT),
        ("supervisor", {**SIDE, "max_width": 16}),
    )
    for m in result:
        state = f"[bold red]{m['state'].upper()}[/]" if m["stopped"] else m["state"]
        since = m["since"]
        stopped_for = duration((now - since).total_seconds() / 60) if m["stopped"] and since and since <= now else ""
        why = m["reason"] or ""
        if m["stopped"] and m["expected_minutes"] is not None:
            why = f"{why} (expect {duration(m['expected_minutes'], unknown='unknown')})".strip()
        listing.add_row(m["machine_id"], state, stopped_for, why, m["supervisor"] or "")
    stdout.print(listing if result else ("No machine is stopped." if stopped else "No machines."))


def holds_cmd(
    at: StoodAtOption = None,
    as_of: AsOfOption = None,
    json: JsonOption = False,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
) -> None:
    """Every active quality hold, newest first: how many lots it reaches, their stock, who already got goods."""
    past = parse_as_of(as_of, at)  # --at and --as-of mean the same here: one of them
    when = parse_at(at)
    with open_plant(db, snapshot, server) as plant:
        result = plant.holds(at=when, as_of=past)
    if json:
        emit_json(result)
        return
    # Hold and lot share a cell (and lots and stock another) so the reason has room at 80 columns.
    listing = table(
        "Active quality holds" + (f" as they stood at {stamp(past or when)}" if past or when else ""),
        ("hold / lot", ID),
        ("shipped to", {"max_width": 18}),
        ("reaches", ID),
        ("placed", ID),
        ("reason", TEXT),
    )
    for h in result:
        shipped = f"[bold red]{', '.join(h['shipped_to'])}[/]" if h["shipped_to"] else "not shipped"
        reaches = f"{h['lots_reached']} lot(s)\n{quantity(h['stock_qty'])} in stock"
        placed = short_time(h["placed_at"].date()) if h["placed_at"] else "-"
        listing.add_row(f"[bold]{h['hold_id']}[/]\n{h['lot_id']}", shipped, reaches, placed, h["reason"] or "-")
    stdout.print(listing if result else "No active quality hold.")


def register(app: typer.Typer) -> None:
    app.command("shipment")(shipment_cmd)
    app.command("customer")(customer_cmd)
    app.command("machine")(machine_cmd)
    app.command("resource")(resource_cmd)
    app.command("machines")(machines_cmd)
    app.command("holds")(holds_cmd)
