"""quality_hold:<hold_id>: the quality hold is active.

Severity by how far the held lot travelled: critical if it (or anything made from it) has shipped; high
if it is in a planned or picked shipment; medium if it is in stock or made into other lots; low if
contained. Owner: who placed the hold.
"""

from __future__ import annotations

from planner_tui.engine.exceptions.base import (
    Context,
    ExceptionKind,
    Row,
    clock,
    events_naming,
    exception_row,
    first,
    last_event_time,
    plural,
    qty,
)
from planner_tui.engine.orders import hold_reach


def detect(ctx: Context, only: str | None = None) -> list[Row]:
    out = []
    for h in hold_reach(ctx.cur, only):
        lot_id = h["lot_id"]
        shipped, pending = h["shipped"], h["shipments"] - h["shipped"]
        descendants, stock = h["descendants"], float(h["stock_qty"] or 0)
        detail = {
            "lot_id": lot_id,
            "item_id": h["item_id"],
            "reason": h["reason"],
            "placed_by": h["placed_by"],
            "descendants": descendants,
            "shipments": h["shipments"],
            "shipped": shipped,
            "customers": h["customers"],
            "customers_shipped_to": h["customers_shipped_to"],
            "stock_qty": stock,
        }
        if shipped:
            severity = "critical"  # goods already at customers: a recall question
            to = h["customers_shipped_to"]
            what = f"shipped to {plural(to, 'customer')}" if to else f"shipped in {plural(shipped, 'shipment')}"
        elif pending:
            severity = "high"
            what = f"in {plural(pending, 'open shipment')}"
        elif descendants or stock:
            severity = "medium"
            reach = [plural(descendants, "lot") + " made from it"] if descendants else []
            what = ", ".join(reach + ([f"{qty(stock)} in stock"] if stock else []))
        else:
            severity = "low"
            what = "contained"
        out.append(
            exception_row(
                "quality_hold",
                h["hold_id"],
                severity=severity,
                title=f"Hold {h['hold_id']} on {lot_id}: {what}" + (f" ({h['item_id']})" if h["item_id"] else ""),
                raised_at=h["placed_at"],
                owner=h["placed_by"],
                detail=detail,
                at=ctx.at,
            )
        )
    return out


def cleared_note(ctx: Context, hold_id: str) -> str:
    row = first(ctx.cur.execute("SELECT status FROM quality_holds WHERE hold_id = ?", [hold_id]))
    if row is None:
        return "hold no longer in the plant data"
    released = last_event_time(ctx.cur, KIND, hold_id, ("hold.released",))
    return "hold released" + (f" at {clock(released, ctx.at)}" if released else "")


KIND = ExceptionKind(
    name="quality_hold",
    words="quality hold",
    rank=30,
    raised_while="the hold is active",
    severities="critical if the lot or anything made from it has shipped; high if it is in a planned or picked "
    "shipment; medium if it is in stock or made into other lots; low if contained",
    detect=detect,
    cleared_note=cleared_note,
    link="trace of hold",
    events_about=events_naming("hold_id"),
    event_keys=("hold_id",),
)
