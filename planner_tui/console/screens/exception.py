"""Exception detail: what it is, the drill into its subject, its history (triage actions, the events
that raised it, and the notifications the plant server sent about it), who was told (each person's
messages and whether they got there), and keyboard triage. When the cause has cleared it says so, in words, and stays."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Static

from planner_tui.access import PlantData, Record
from planner_tui.console.dialogs.triage import (
    TRIAGE_BINDINGS,
    TriageActions,
    TriageDone,
)
from planner_tui.console.screens._common import (
    DrillScreen,
    DrillTree,
    add_record,
    capped,
    group,
    node_label,
    record_ids,
    sales_line_id,
)
from planner_tui.console.screens.drilldown import Node, add_notify, late_words, line_counts, line_order
from planner_tui.errors import PlannerError
from planner_tui.present import (
    STATUS_STYLE,
    day,
    duration,
    earlier_occurrence,
    eta,
    moment,
    quantity,
    severity_text,
    short_times_in,
)

DELIVERY_STYLE = {"delivered": "green", "failed": "bold red", "pending": "yellow", "sending": "yellow"}


class ExceptionScreen(TriageActions, DrillScreen):
    """One exception: a acknowledge, s assign, n note, z snooze, x resolve, o reopen (keys as the keymap says)."""

    kind = "exception"

    def _key_for(self, binding_id: str, default: str) -> str:
        """The key bound to `binding_id` now (a [keymap] setting may have moved it), as the footer shows it."""
        for key, active in self.active_bindings.items():
            if active.binding.id == binding_id:
                return self.app.get_key_display(active.binding) or key
        return default

    BINDINGS: ClassVar[list[BindingType]] = TRIAGE_BINDINGS

    @property
    def crumb(self) -> str:
        return self.ident

    def compose_body(self) -> ComposeResult:
        yield Static(id="drill-summary")
        yield Static(id="exception-cleared")
        yield DrillTree("exception", id="drill-tree")

    def fetch(self, plant: PlantData, at: datetime) -> Record:
        answer = plant.exception(self.ident, at=at)
        # What its kind is about (the plant's registry of kinds): the record its subject opens, in words.
        about = next((k for k in plant.exception_kinds() if k.get("kind") == answer.get("kind")), {})
        # Who is hit, on the triage screen itself: the planner acknowledges and assigns knowing it. The
        # reach of a stopped machine is its impact, of a held lot its trace, whatever kind the exception is.
        reach = None
        record = about.get("subject_record")
        if not answer.get("cause_cleared"):
            try:
                if record == "machine":
                    reach = plant.machine_impact(str(answer["subject_id"]))
                elif record == "resource":
                    reach = plant.resource_impact(str(answer["subject_id"]))
                elif record == "hold":
                    reach = plant.trace_hold(str(answer["subject_id"]))
            except PlannerError:
                reach = None  # the detail still shows; the drill into the subject says why
        return {**answer, "about": about, "reach": reach, "reach_of": record if reach else None}

    # --- triage hooks ------------------------------------------------------------------------------

    def triage_target(self) -> str | None:
        return self.ident

    def triage_assignee(self) -> str | None:
        return (self.data or {}).get("assignee")

    def triage_owner(self) -> str | None:
        return (self.data or {}).get("owner")

    def triage_severity(self) -> str | None:
        return (self.data or {}).get("severity")

    def triage_changed(self, message: TriageDone) -> None:
        self.reload()

    # --- showing it ----------------------------------------------------------------------------------

    def show(self, data: Record, *, first: bool) -> None:
        self.query_one("#drill-summary", Static).update(self._summary(data))
        cleared = self.query_one("#exception-cleared", Static)
        if data.get("cause_cleared"):
            cleared.update(
                Text(
                    f"CAUSE CLEARED: {data.get('cleared_note') or 'the cause is gone'}. "
                    f"Resolve it ({self._key_for('triage.resolve', 'x')}) when the follow-up is done.",
                    no_wrap=False,
                )
            )
            cleared.add_class("cleared")
        else:
            cleared.update("")
            cleared.remove_class("cleared")
        tree = self.query_one(DrillTree)
        tree.root.set_label(Text(str(data.get("exception_id") or self.ident), style="bold"))
        self.fill_tree(tree, lambda root: self._build(root, data), first=first)
        if first:
            tree.focus()

    def _summary(self, data: Record) -> Text:
        severity = str(data.get("severity") or "-")
        status = str(data.get("status") or "open")
        text = Text(str(data.get("title") or self.ident), style="bold")
        text.append("\n")
        text.append("severity ")
        text.append_text(severity_text(severity, upper=True))
        text.append("  status ")
        text.append(status.upper(), style=STATUS_STYLE.get(status, ""))
        if status == "snoozed" and data.get("snoozed_until"):
            text.append(f" until {moment(data.get('snoozed_until'))}")
        text.append(f"  assigned {data.get('assignee') or 'nobody'}")
        text.append(f"  owner {data.get('owner') or '-'}")
        text.append("\n")
        raised = data.get("raised_at")
        text.append(f"raised {moment(raised)}" if raised else "raised -", style="dim")
        if data.get("age_minutes") is not None:
            text.append(f" ({duration(data.get('age_minutes'))} ago)", style="dim")
        detected = data.get("first_detected_at")
        if detected and detected != raised:
            text.append(f", first detected {moment(detected)}", style="dim")
        earlier = earlier_occurrence(data.get("previous_occurrence"))
        if earlier:
            text.append(f"\n{earlier}", style="dim")
        return text

    def _build(self, root: Node, data: Record) -> None:
        subject_kind = data.get("subject_kind")
        subject_id = data.get("subject_id")
        about = data.get("about") or {}
        drill_kind = about.get("subject_record")
        if drill_kind == "resource":
            # A person's or tool's absence opens what it hits, as a machine's stop opens its impact.
            drill_kind = "resource_impact"
        if drill_kind and subject_id:
            words = about.get("link") or about.get("subject_words") or str(subject_kind)
            root.add_leaf(
                node_label(("Open", "bold reverse"), f"{words} {subject_id}", ("(Enter)", "dim")),
                data=(str(drill_kind), str(subject_id)),
            )
        elif subject_id:
            root.add_leaf(node_label((str(subject_kind), "dim"), str(subject_id)))

        history = data.get("history") or []
        node = group(root, "History", history, empty="no actions or events yet")
        for entry in history:
            node.add_leaf(self._history_label(entry))
        self._add_told(root, [entry for entry in history if entry.get("kind") == "delivery"])

        reach = data.get("reach")
        if reach and data.get("reach_of") in ("machine", "resource"):
            lines = sorted(reach.get("sales_orders") or [], key=line_order)
            node = group(root, "Customer lines hit", lines, empty="no customer line hit")
            if lines:
                node.add_leaf(line_counts(lines, total=False))  # the group says how many
            for line in capped(node, lines):
                add_record(
                    node,
                    node_label(
                        (sales_line_id(line), "bold"),
                        late_words(line),
                        line.get("customer_id"),
                        f"promised {day(line.get('promised_date'))}",
                        f"ETA {eta(line, whole=True)}",
                    ),
                    line,
                )
        elif reach and data.get("reach_of") == "hold":
            customers = reach.get("customers") or []
            node = group(root, "Customers reached by the lot", customers, empty="no customer reached")
            for customer in capped(node, customers):
                got = ("already received goods", "bold red") if customer.get("received") else ("orders open", "")
                add_record(node, node_label((customer.get("customer_id"), "bold"), got, customer.get("name")), customer)
        if reach:
            add_notify(root, reach.get("notify") or [])

        detail = data.get("detail") or {}
        if isinstance(detail, dict) and detail:
            node = root.add(Text("Details", style="bold"), data=None, expand=not reach)
            ids = record_ids(detail)
            for kind, ident in ids:
                add_record(node, node_label((kind.replace("_", " "), "dim"), (ident, "bold")), {}, own=(kind, ident))
            for key, value in detail.items():
                if key.endswith("_id") or value in (None, "", []):
                    continue
                node.add_leaf(node_label((key.replace("_", " "), "dim"), self._value(key, value)))

    @staticmethod
    def _value(key: str, value: Any) -> str:
        if isinstance(value, (datetime,)) or key.endswith("_at") or key in ("since", "eta"):
            return moment(value)
        if key.endswith("_minutes"):
            return duration(value)
        if isinstance(value, float):
            return quantity(value)
        if isinstance(value, list):
            return ", ".join(map(str, value[:8])) + (" ..." if len(value) > 8 else "")
        return str(value)

    @staticmethod
    def _add_told(root: Node, deliveries: list[Record]) -> None:
        """Told: one line a person, in the order they were first told: their messages, how many were
        delivered, the last failure; a leaf a channel under it. Nothing when nobody was told."""
        if not deliveries:
            return
        people: dict[str, list[Record]] = {}
        for entry in sorted(deliveries, key=lambda e: (str(e.get("created_at")), str(e.get("message_key")))):
            people.setdefault(str(entry.get("person") or "?"), []).append(entry)
        node = group(root, "Told", people)
        for person, theirs in people.items():
            states = [str(e.get("state") or "") for e in theirs]
            delivered = states.count("delivered")
            failed = states.count("failed")
            waiting = len(states) - delivered - failed
            last = max(theirs, key=lambda e: str(e.get("at") or ""))
            label = node_label(
                (person, "bold"),
                (f"{delivered} of {len(theirs)} delivered", "green" if delivered == len(theirs) else ""),
                (f"{failed} failed" if failed else "", "bold red"),
                (f"{waiting} waiting" if waiting else "", "yellow"),
                (f"last {moment(last.get('at'))}", "dim"),
            )
            channels = node.add(label, data=None, expand=False)
            for entry in theirs:
                channels.add_leaf(ExceptionScreen._delivery_label(entry))

    @staticmethod
    def _delivery_label(entry: Record) -> Text:
        state = str(entry.get("state") or "")
        attempts = entry.get("attempts") or 0
        plural = "" if attempts == 1 else "s"
        tries = f"after {attempts} attempt{plural}" if attempts > 1 or (attempts and state != "delivered") else ""
        return node_label(
            (moment(entry.get("at")), "dim"),
            (state.upper(), DELIVERY_STYLE.get(state, "")),
            str(entry.get("reason") or ""),
            (str(entry.get("channel") or ""), "dim"),
            tries,
            (str(entry.get("last_error") or "") if state != "delivered" else "", "red"),
        )

    @staticmethod
    def _history_label(entry: Record) -> Text:
        when = moment(entry.get("at"))
        if entry.get("kind") == "delivery":
            state = str(entry.get("state") or "")
            return node_label(
                (when, "dim"),
                ("TOLD", "cyan"),
                (str(entry.get("person") or "?"), "bold"),
                (state, DELIVERY_STYLE.get(state, "")),
                str(entry.get("reason") or ""),
                (f"by {entry.get('channel')}", "dim"),
                (str(entry.get("last_error") or "") if state != "delivered" else "", "red"),
            )
        if entry.get("kind") == "event":
            outcome = entry.get("outcome")
            what = short_times_in(str(entry.get("summary") or entry.get("type") or ""))
            return node_label(
                (when, "dim"),
                ("event", "italic"),
                what,
                (f"({outcome})" if outcome and outcome != "applied" else "", "yellow"),
            )
        action = str(entry.get("action") or "")
        detail = entry.get("detail")
        if action == "snooze" and detail:
            detail = f"until {moment(detail)}"
        elif action == "assign" and detail:
            detail = f"to {detail}"
        return node_label((when, "dim"), (entry.get("who") or "?", "bold"), (action.upper(), "cyan"), detail)
