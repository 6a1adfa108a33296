"""shortage:<item_id>: the material projection finds the item short.

Severity: critical if it starts within SHORTAGE_IMMINENT_HOURS and hits customer lines; high if it starts
that soon or hits customer lines; medium if it hits production orders only; else low. Owner: the item's
buyer.
"""

from __future__ import annotations

from planner_tui.engine.exceptions.base import Context, ExceptionKind, Row, day, event_field, exception_row, plural, qty
from planner_tui.timeutil import as_datetime

# A shortage that starts within this many hours is treated as happening now.
SHORTAGE_IMMINENT_HOURS = 24


def detect(ctx: Context, only: str | None = None) -> list[Row]:
    out = []
    for s in ctx.shortages().get("shortages") or []:
        item_id = s["item_id"]
        if only is not None and item_id != only:
            continue
        affected = s.get("affected") or []
        lines = [a for a in affected if a.get("kind") == "sales_order"]
        orders = [a for a in affected if a.get("kind") == "production_order"]
        first_short = as_datetime(s.get("first_short_at"))
        imminent = first_short is not None and (first_short - ctx.at).total_seconds() <= SHORTAGE_IMMINENT_HOURS * 3600
        if imminent and lines:
            severity = "critical"
        elif imminent or lines:
            severity = "high"
        elif orders:
            severity = "medium"
        else:
            severity = "low"
        hits = []  # customers first: they are what a planner answers for
        if lines:
            hits.append(plural(len(lines), "customer line"))
        if orders:
            hits.append(plural(len(orders), "production order"))
        if first_short is not None and first_short <= ctx.at:
            when = "now"
        elif first_short is not None and first_short.date() == ctx.at.date():
            when = f"from {first_short:%H:%M}"
        else:
            when = f"from {day(first_short, ctx.at)}"
        title = f"{item_id} short {qty(s.get('max_short_qty'))} {when}"
        if hits:
            title += ": hits " + " and ".join(hits)
        out.append(
            exception_row(
                "shortage",
                item_id,
                severity=severity,
                title=title,
                # The projection does not know when it appeared: the inbox keeps when it was first
                # detected, and `began` says when it most likely began the first time.
                raised_at=ctx.at,
                owner=s.get("buyer"),
                detail={
                    "first_short_at": first_short,
                    "max_short_qty": s.get("max_short_qty"),
                    "recovers_at": s.get("recovers_at"),
                    "affected": len(affected),
                    # the first demand it leaves short: which shortage this is (a new first one, a new one)
                    "first_hit": f"{affected[0].get('kind')}:{affected[0].get('id')}" if affected else None,
                    "production_orders": len(orders),
                    "sales_lines": len(lines),
                },
                at=ctx.at,
            )
        )
    return out


def began(ctx: Context, rows: list[Row]) -> None:
    """A shortage first detected now began with the latest event about its item (a receipt that did not
    come, an order that grew: `events_about`), else it was in the snapshot already: at its extract time."""
    latest = dict(
        ctx.cur.execute(
            f"""WITH about AS (
                    SELECT coalesce({event_field("item_id", "e.data")}, po.item_id) AS item,
                           coalesce(e.event_time, e.received_at) AS t
                    FROM event_log e
                    LEFT JOIN purchase_orders po ON po.purchase_order_id = {event_field("purchase_order_id", "e.data")}
                    WHERE coalesce(e.event_time, e.received_at) <= ?
                )
                SELECT item, max(t) FROM about WHERE list_contains(?, item) GROUP BY item""",
            [ctx.at, [row["subject_id"] for row in rows]],
        ).fetchall()
    )
    extract = as_datetime(ctx.cur.execute("SELECT max(value) FROM store_meta WHERE key = 'as_of'").fetchall()[0][0])
    for row in rows:
        found = latest.get(row["subject_id"]) or extract
        if found is not None:
            row["raised_at"] = min(found, ctx.at)


def events_about(item_id: str) -> tuple[str, list]:
    """Events about the item itself, or about a purchase order for it."""
    return (
        f"""({event_field("item_id")} = ? OR {event_field("purchase_order_id")} IN
             (SELECT purchase_order_id FROM purchase_orders WHERE item_id = ?))""",
        [item_id, item_id],
    )


KIND = ExceptionKind(
    name="shortage",
    words="material shortage",
    rank=40,
    raised_while="the material projection finds the item short",
    severities=f"critical if it starts within {SHORTAGE_IMMINENT_HOURS} h and hits customer lines; high if it "
    f"starts within {SHORTAGE_IMMINENT_HOURS} h or hits customer lines; medium if it hits production "
    "orders only; else low",
    detect=detect,
    cleared_note=lambda ctx, item_id: "no longer short",
    link="shortage of item",
    events_about=events_about,
    occurrence=lambda row: str(row["detail"].get("first_hit")),
    began=began,
)
