"""Who is told about an exception, and why: the engine's own `notify` list, then the routing rules.

By default an exception goes to the people its answer names (`notify` of the machine's or resource's
impact, of the hold's trace), each with the reason the engine gives; an exception whose answer names
nobody goes to its owner. `[[routing.rules]]` add people or teams (`only` replaces the default list); the
first matching rule decides unless it says `continue`. A rule or an escalation matches on the facts of
the exception (`facts`): its kind, severity, machine, line, customers and their tiers, items and buyers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from planner_tui.engine.impact import machine_impact, resource_impact
from planner_tui.engine.trace import trace_hold
from planner_tui.errors import PlannerError
from planner_tui.routing import Routing
from planner_tui.store.db import rows

STOP_KINDS = ("machine_down", "resource_unavailable")  # causes whose messages fold the lines they make late
CONTEXT_KINDS = (*STOP_KINDS, "quality_hold")  # kinds whose message needs an answer computed (`context`)


@dataclass
class Recipient:
    person: str  # as the plant (or the settings) names them
    why: list[str]  # what they are told for, one reason a line
    via: str  # "default", "rule N", "escalation N"


def context(cur: duckdb.DuckDBPyConnection, row: dict) -> dict | None:
    """The answer behind an exception that says who must know and what is at risk: the impact of a stop,
    the trace of a hold; None for the kinds whose row says it all (a plant data error reads as None)."""
    kind, subject = row["kind"], row["subject_id"]
    try:
        if kind == "machine_down":
            return machine_impact(cur, subject)
        if kind == "resource_unavailable":
            return resource_impact(cur, subject)
        if kind == "quality_hold":
            return trace_hold(cur, subject)
    except PlannerError:
        return None
    return None


def facts(cur: duckdb.DuckDBPyConnection, row: dict, answer: dict | None) -> dict[str, set[str]]:
    """What a rule can match an exception on, each a set of lower-case values."""
    detail = row.get("detail") or {}
    out: dict[str, set[str]] = {key: set() for key in ("machine", "line", "customer", "tier", "item", "buyer")}
    out["kind"] = {row["kind"]}
    out["severity"] = {row["severity"]}
    if row["kind"] == "machine_down":
        out["machine"].add(row["subject_id"])
    customers = {detail.get("customer_id")} - {None}
    items = {detail.get("item_id"), detail.get("short_item_id")} - {None}
    if row["kind"] == "shortage":
        items.add(row["subject_id"])
    if answer:
        for line in answer.get("sales_orders") or []:
            customers.add(line.get("customer_id"))
            items.add(line.get("item_id"))
        for op in answer.get("operations") or []:
            if op.get("machine_id"):
                out["machine"].add(op["machine_id"])
        for customer in answer.get("customers") or []:
            customers.add(customer.get("customer_id"))
        root = answer.get("root") or answer.get("lot") or {}
        if isinstance(root, dict) and root.get("item_id"):
            items.add(root["item_id"])
    customers.discard(None)
    items.discard(None)
    out["customer"] = {str(c) for c in customers}
    out["item"] = {str(i) for i in items}
    if out["machine"]:
        out["line"] = {
            r["line"]
            for r in rows(
                cur,
                "SELECT line FROM machines WHERE machine_id IN (SELECT unnest(?::VARCHAR[]))",
                [sorted(out["machine"])],
            )
            if r["line"]
        }
    if out["customer"]:
        out["tier"] = {
            r["tier"]
            for r in rows(
                cur,
                "SELECT tier FROM customers WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))",
                [sorted(out["customer"])],
            )
            if r["tier"]
        }
    if out["item"]:
        out["buyer"] = {
            r["buyer"]
            for r in rows(
                cur, "SELECT buyer FROM items WHERE item_id IN (SELECT unnest(?::VARCHAR[]))", [sorted(out["item"])]
            )
            if r["buyer"]
        }
    return {key: {v.lower() for v in values} for key, values in out.items()}


def matches(match: dict, found: dict[str, set[str]]) -> bool:
    """Every key of `match` holds: one of its values is among the exception's. A kind matches by its name
    or a word of it (`hold` matches quality_hold, `machine` machine_down)."""
    for key, wanted in match.items():
        have = found.get(key, set())
        if key == "kind":
            have = have | {word for kind in have for word in kind.split("_")}
        if not set(wanted) & have:
            return False
    return True


def recipients(
    cur: duckdb.DuckDBPyConnection, row: dict, routing: Routing, answer: dict | None = None
) -> list[Recipient]:
    """Who is told about `row` and why (before escalation), in order: the default list, then rules."""
    out: dict[str, Recipient] = {}

    def add(person: str | None, why: str, via: str) -> None:
        if not person:
            return
        configured = routing.person(person)
        # One entry per person however they are named (the plant's "Quinn", a team's "quinn").
        entry = out.setdefault(configured.key if configured else person, Recipient(person, [], via))
        if why and why not in entry.why:
            entry.why.append(why)

    default: list[tuple[str, str]] = []
    for n in (answer or {}).get("notify") or []:
        for reason in n.get("reasons") or [n.get("why")]:
            if isinstance(reason, dict):  # a trace's reasons carry their own role: {role, why}
                default.append((n["person"], f"{reason.get('role') or n.get('role') or 'told'}: {reason.get('why')}"))
            else:
                default.append((n["person"], f"{n.get('role') or 'told'}: {reason}"))
    if not default and row.get("owner"):
        default.append((row["owner"], "owner of this exception"))

    found = facts(cur, row, answer) if routing.rules else {}  # a few queries: only when a rule asks
    only = False
    added: list[tuple[str, str]] = []
    for i, rule in enumerate(routing.rules):
        if not matches(dict(rule.match), found):
            continue
        for person in routing.expand_names(rule.add):
            added.append((person, f"rule {i + 1}"))
        only = only or rule.only
        if not rule.cont:
            break
    if not only:
        for person, why in default:
            add(person, why, "default")
    for person, via in added:
        add(person, f"routing {via} ({row['kind']})", via)
    return list(out.values())


def escalation_due(
    row: dict, routing: Routing, found: dict[str, set[str]], at: datetime
) -> list[tuple[int, list[str]]]:
    """(level, people) of every escalation level `row` has reached unacknowledged, lowest first."""
    if row.get("status") != "open" or row.get("raised_at") is None:
        return []
    out = []
    for i, level in enumerate(routing.escalation):
        if matches(dict(level.match), found) and at - row["raised_at"] >= level.after:
            out.append((i + 1, routing.expand_names(level.to)))
    return out
