"""CLI commands: material. `trace lot`, `trace hold` and `shortages`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Optional

import typer
from rich.table import Table as RichTable
from rich.text import Text
from rich.tree import Tree

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
    short_times_in,
    stamp,
    stdout,
    stood,
    table,
)
from planner_tui.present import quantity, sparkline
from planner_tui.timeutil import resolve_now

trace_app = typer.Typer(
    help="Lot trace: where a lot went (forward) and where it came from (backward).",
    no_args_is_help=True,
)

# A rich tree of a huge genealogy is unreadable anyway; the JSON has everything.
TREE_LIMIT = 200


def _lot_label(lot: dict) -> str:
    status = lot.get("status") or "?"
    style = {"hold": "bold red", "shipped": "yellow"}.get(status, "")
    text = f"{lot['lot_id']} [dim]{lot.get('item_id') or ''}[/] "
    return text + (f"[{style}]{status}[/]" if style else status)


def _tree(title: str, root_id: str, nodes: list[dict], links_key: str) -> Tree:
    """Draw a walk as a tree: each lot under its first parent on the way back; a lot reached from several
    parents (a diamond) is drawn once and its other parents are named."""
    tree = Tree(title)
    branches = {root_id: tree}
    shown = 0
    for node in nodes:  # ordered by depth, so a parent is drawn before its children
        if shown >= TREE_LIMIT:
            tree.add(f"[dim]... {len(nodes) - shown} more lots (see --json)[/]")
            break
        links = [p for p in node[links_key] if p in branches]
        parent = branches[links[0]] if links else tree
        label = _lot_label(node)
        if len(node[links_key]) > 1:
            label += f" [dim](from {', '.join(node[links_key])})[/]"
        branches[node["lot_id"]] = parent.add(label)
        shown += 1
    return tree


def _table(title: str, columns: list[tuple[str, dict]], rows: list[list], *, empty: str = "none") -> RichTable | Text:
    if not rows:
        return Text(f"{title}: {empty}", style="dim")
    listing = table(title, *columns)
    for row in rows:
        listing.add_row(*[value if isinstance(value, Text) else ("" if value is None else str(value)) for value in row])
    return listing


def _print_trace(answer: dict, when: datetime | None = None) -> None:
    hold = answer.get("hold")
    if hold:
        stdout.print(
            f"[bold]hold {hold['hold_id']}[/] on lot {hold['lot_id']}: {hold['reason'] or ''} "
            f"(placed {stamp(hold['placed_at'])} by {hold['placed_by'] or '?'}, {hold['status']})"
        )
    s = answer["summary"]
    stdout.print(
        f"[bold]lot {answer['lot_id']}[/] item {answer['item_id']} ({answer['status']}): "
        f"{s['descendants']} descendant lot(s), {s['ancestors']} ancestor lot(s), "
        f"{quantity(s['stock_qty'])} in stock at {s['stock_locations']} location(s), "
        f"{s['shipments']} shipment(s), shipped to {s['customers_shipped_to']} customer(s){stood(when)}"
    )
    for warning in answer["warnings"]:
        stdout.print(f"[bold yellow]warning:[/] {warning}")
    holds = answer["holds"] + answer.get("descendant_holds", [])
    stdout.print(
        _table(
            "Quality holds",
            [("hold", ID), ("lot", ID), ("status", ID), ("reason", TEXT), ("placed / by", SIDE)],
            [
                [
                    h["hold_id"],
                    h["lot_id"],
                    h["status"],
                    h["reason"],
                    f"{short_time(h['placed_at'])}\n{h['placed_by'] or '?'}",
                ]
                for h in holds
            ],
        )
    )
    root = f"{answer['lot_id']} {answer['item_id']}"
    stdout.print(
        _tree(f"[bold]forward[/] (made from {root})", answer["lot_id"], answer["descendants"], "parent_lot_ids")
    )
    stdout.print(_tree(f"[bold]backward[/] (went into {root})", answer["lot_id"], answer["ancestors"], "child_lot_ids"))
    stdout.print(
        _table(
            "Production orders",
            [("order / item", ID), ("status / role", SIDE), ("lots consumed -> made", TEXT), ("planned end", ID)],
            [
                [
                    f"{o['production_order_id']}\n{o['item_id']}",
                    f"{o['status']}\n{o['role']}",
                    f"{', '.join(o['consumed_lots']) or '-'} -> {', '.join(o['made_lots']) or '-'}",
                    short_time(o["planned_end"]),
                ]
                for o in answer["production_orders"]
            ],
        )
    )
    stdout.print(
        _table(
            "Inventory",
            [("location", ID), ("lot", ID), ("item", ID), ("qty", NUMBER), ("lot status", SIDE)],
            [
                [i["location"], i["lot_id"], i["item_id"], quantity(i["qty"]), i["lot_status"]]
                for i in answer["inventory"]
            ],
        )
    )
    stdout.print(
        _table(
            "Shipments",
            [("shipment", ID), ("status", SIDE), ("line / customer", ID), ("lot", ID), ("qty", NUMBER), ("ship", ID)],
            [
                [
                    s["shipment_id"],
                    Text(s["status"], style="bold yellow" if s["shipped"] else ""),
                    f"{s['sales_order_id']}/{s['line_no']}\n{s['customer_id']}",
                    s["lot_id"],
                    quantity(s["qty"]),
                    short_time(s["planned_ship_date"]),
                ]
                for s in answer["shipments"]
            ],
        )
    )
    stdout.print(
        _table(
            "Customers",
            [
                ("customer", ID),
                ("name", TEXT),
                ("account manager", {**SIDE, "max_width": 16}),
                ("received", ID),
                ("orders", {"ratio": 1, "min_width": 10}),
            ],
            [
                [
                    c["customer_id"],
                    c["name"],
                    c["account_manager"],
                    "yes" if c["received"] else "no",
                    ", ".join(c["sales_orders"]),
                ]
                for c in answer["customers"]
            ],
        )
    )
    stdout.print(
        _table(
            "Notify",
            [("person", ID), ("role", {**SIDE, "max_width": 16}), ("why", {**TEXT, "ratio": 3})],
            [[n["person"], n["role"], short_times_in(n["why"])] for n in answer["notify"]],
        )
    )


@trace_app.command("lot")
def trace_lot_command(
    lot_id: Annotated[str, typer.Argument(help="The lot to trace.")],
    at: StoodAtOption = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    json: JsonOption = False,
) -> None:
    """Trace a lot forward (lots made from it, orders, stock, shipments, customers) and backward."""
    when = parse_at(at)
    with open_plant(db, snapshot, server) as plant:
        answer = plant.trace_lot(lot_id, at=when)
    if json:
        emit_json(answer)
    else:
        _print_trace(answer, when)


@trace_app.command("hold")
def trace_hold_command(
    hold_id: Annotated[str, typer.Argument(help="The quality hold whose lot to trace.")],
    at: StoodAtOption = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    json: JsonOption = False,
) -> None:
    """Trace the lot of a quality hold: what it hits and who must be told."""
    when = parse_at(at)
    with open_plant(db, snapshot, server) as plant:
        answer = plant.trace_hold(hold_id, at=when)
    if json:
        emit_json(answer)
    else:
        _print_trace(answer, when)


def _print_projection(answer: dict) -> None:
    stdout.print(
        f"[bold]{answer['item_id']}[/] {answer['description'] or ''}  buyer {answer['buyer'] or '?'}  "
        f"on hand {quantity(answer['on_hand'])}  safety stock {quantity(answer['safety_stock'])}  "
        f"min balance {quantity(answer['min_balance'])}"
    )
    stdout.print(sparkline([p["balance"] for p in answer["points"]], width=min(60, stdout.width)))
    points = table()
    for column in ("at", "kind", "ref", "delta", "balance", "overdue"):
        points.add_column(column, justify="right" if column in ("delta", "balance") else "left", no_wrap=True)
    for p in answer["points"]:
        style = "red" if p["balance"] < 0 else "yellow" if p["balance"] < answer["safety_stock"] else ""
        points.add_row(
            short_time(p["at"]),
            p["kind"],
            p["ref"] or "",
            quantity(p["delta"]),
            Text(quantity(p["balance"]), style=style),
            "overdue" if p["overdue"] else "",
        )
    stdout.print(points)


def shortages_command(
    at: AtOption = None,
    as_of: AsOfOption = None,
    horizon_days: Annotated[
        Optional[int], typer.Option("--horizon-days", help="Ignore supply and demand after now + N days.")
    ] = None,
    item: Annotated[Optional[str], typer.Option("--item", help="Show this item's time-phased balance.")] = None,
    db: DbOption = None,
    snapshot: SnapshotOption = None,
    server: ServerOption = None,
    json: JsonOption = False,
) -> None:
    """Material shortages: items whose projected balance goes below zero, and safety-stock warnings."""
    past = parse_as_of(as_of, at)
    now = past or resolve_now(at)
    with open_plant(db, snapshot, server) as plant:
        if item is not None:
            answer = plant.projection(item, at=now, horizon_days=horizon_days)
            if json:
                emit_json(answer)
            else:
                _print_projection(answer)
            return
        answer = plant.shortages(at=now, horizon_days=horizon_days, as_of=past)
        if json:
            emit_json(answer)
            return
        shown = answer["shortages"][:100]
        series = plant.balance_series([s["item_id"] for s in shown], at=now, horizon_days=horizon_days)
    horizon = f" to {stamp(answer['horizon_end'])}" if answer["horizon_end"] else ""
    stdout.print(
        f"[bold]{len(answer['shortages'])} item(s) short[/], {len(answer['warnings'])} below safety stock, "
        f"from {stamp(answer['at'])}{horizon}"
    )
    if shown:
        short = table("Shortages", caption="times are month-day hour:minute (UTC); --json has full timestamps")
        short.add_column("item", no_wrap=True)
        short.add_column("buyer", no_wrap=True, max_width=12, overflow="ellipsis")
        short.add_column("short from / to", min_width=14)  # when it goes short, then when it recovers
        short.add_column("short", justify="right", no_wrap=True)
        short.add_column("affected", ratio=1, min_width=12)
        short.add_column("balance", no_wrap=True)
        for s in shown:
            affected = [a["id"] for a in s["affected"]]
            more = f" +{len(affected) - 3}" if len(affected) > 3 else ""
            short.add_row(
                s["item_id"],
                s["buyer"] or "",
                Text.assemble(
                    (
                        short_time(s["first_short_at"]) + (" OVERDUE" if s["overdue"] else ""),
                        "bold red" if s["overdue"] else "",
                    ),
                    "\nto " + ("never" if s["recovers_at"] is None else short_time(s["recovers_at"])),
                ),
                quantity(s["max_short_qty"]),
                ", ".join(affected[:3]) + more,
                sparkline([b for _, b in series.get(s["item_id"], [])], width=8),
            )
        stdout.print(short)
        if len(answer["shortages"]) > len(shown):
            stdout.print(f"[dim]... {len(answer['shortages']) - len(shown)} more (see --json)[/]")
    if answer["warnings"]:
        stdout.print(
            _table(
                "Below safety stock",
                [
                    ("item", ID),
                    ("description", TEXT),
                    ("buyer", SIDE),
                    ("below safety", ID),
                    ("min", NUMBER),
                    ("safety", NUMBER),
                ],
                [
                    [
                        w["item_id"],
                        w["description"],
                        w["buyer"],
                        short_time(w["below_safety_at"]),
                        quantity(w["min_balance"]),
                        quantity(w["safety_stock"]),
                    ]
                    for w in answer["warnings"][:100]
                ],
            )
        )


def register(app: typer.Typer) -> None:
    app.add_typer(trace_app, name="trace")
    app.command("shortages")(shortages_command)
