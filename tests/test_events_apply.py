"""Applying events to the store: each type's effect, once only, kept as history, all or nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from eventkit import SOURCE, ce, one, plant, snapshot_state

from planner_tui.store import events as events_module
from planner_tui.store.events import apply_events, event_history, feed_cursor, lag_stats, working

T0 = "2026-01-05T08:00:00Z"


def apply(store, *evs, feed="test-feed", **kw):
    return apply_events(store, list(evs), feed=feed, **kw)


def outcome_of(store, event_id):
    return one(store, "SELECT outcome, reason FROM event_log WHERE event_id = ?", [event_id])


# --- each type's effect -----------------------------------------------------------------------------


def test_machine_down_then_up():
    store = plant()
    result = apply(
        store,
        ce(
            "e1",
            "machine.down",
            {"machine_id": "M1", "reason": "spindle", "expected_minutes": 90},
            time="2026-01-05T08:10:00+01:00",
        ),
    )
    assert result.applied == 1
    assert one(store, "SELECT state, since, reason, expected_minutes FROM machine_states WHERE machine_id='M1'") == (
        "down",
        datetime(2026, 1, 5, 7, 10),
        "spindle",
        90,
    )
    apply(store, ce("e2", "machine.up", {"machine_id": "M1"}, time="2026-01-05T09:00:00Z"))
    assert one(store, "SELECT state, since, reason, expected_minutes FROM machine_states WHERE machine_id='M1'") == (
        "running",
        datetime(2026, 1, 5, 9, 0),
        None,
        None,
    )
    # An existing row is updated, not duplicated.
    apply(store, ce("e3", "machine.down", {"machine_id": "M2"}))
    assert one(store, "SELECT count(*) FROM machine_states WHERE machine_id='M2'") == 1
    assert one(store, "SELECT state, expected_minutes FROM machine_states WHERE machine_id='M2'") == ("down", None)


def test_hold_placed_and_released_keeps_lot_held_while_another_hold_is_active():
    store = plant()
    apply(
        store,
        ce(
            "e1",
            "hold.placed",
            {"hold_id": "H1", "lot_id": "L1", "reason": "porosity", "placed_by": "QA"},
            time="2026-01-05T10:00:00Z",
        ),
    )
    assert one(store, "SELECT lot_id, reason, placed_at, placed_by, status FROM quality_holds WHERE hold_id='H1'") == (
        "L1",
        "porosity",
        datetime(2026, 1, 5, 10),
        "QA",
        "active",
    )
    assert one(store, "SELECT status FROM lots WHERE lot_id='L1'") == "hold"
    apply(store, ce("e2", "hold.placed", {"hold_id": "H2", "lot_id": "L1"}))
    apply(store, ce("e3", "hold.released", {"hold_id": "H1"}))
    assert one(store, "SELECT status FROM quality_holds WHERE hold_id='H1'") == "released"
    assert one(store, "SELECT status FROM lots WHERE lot_id='L1'") == "hold"  # H2 still active
    apply(store, ce("e4", "hold.released", {"hold_id": "H2"}))
    assert one(store, "SELECT status FROM lots WHERE lot_id='L1'") == "released"
    # The pre-existing hold H0 on L2 is honoured too.
    apply(store, ce("e5", "hold.released", {"hold_id": "H0"}))
    assert one(store, "SELECT status FROM lots WHERE lot_id='L2'") == "released"


def test_hold_on_a_shipped_lot_keeps_the_lot_shipped():
    store = plant()
    apply(
        store,
        ce("e1", "shipment.shipped", {"shipment_id": "SH1"}),
        ce("e2", "hold.placed", {"hold_id": "H9", "lot_id": "L1", "reason": "customer complaint"}),
    )
    assert one(store, "SELECT status FROM lots WHERE lot_id='L1'") == "shipped"
    assert one(store, "SELECT status FROM quality_holds WHERE hold_id='H9'") == "active"


def test_hold_placed_and_released_in_one_batch():
    store = plant()
    result = apply(
        store,
        ce("e1", "hold.placed", {"hold_id": "H1", "lot_id": "L1"}, seq=1),
        ce("e2", "hold.released", {"hold_id": "H1"}, seq=2),
    )
    assert result.applied == 2
    assert one(store, "SELECT status FROM quality_holds WHERE hold_id='H1'") == "released"
    assert one(store, "SELECT status FROM lots WHERE lot_id='L1'") == "released"


def test_order_confirmed_changed_cancelled():
    store = plant()
    apply(
        store,
        ce(
            "e1",
            "order.confirmed",
            {
                "sales_order_id": "SO9",
                "line_no": 1,
                "customer_id": "C1",
                "item_id": "FG1",
                "qty": 3,
                "promised_date": "2026-02-01",
            },
            time="2026-01-05T11:00:00Z",
        ),
    )
    assert one(
        store,
        "SELECT customer_id, item_id, qty, promised_date, confirmed_at, status FROM sales_orders "
        "WHERE sales_order_id='SO9' AND line_no=1",
    ) == ("C1", "FG1", 3.0, date(2026, 2, 1), datetime(2026, 1, 5, 11), "open")
    apply(store, ce("e2", "order.changed", {"sales_order_id": "SO9", "line_no": 1, "qty": 5}))
    assert one(store, "SELECT qty, promised_date FROM sales_orders WHERE sales_order_id='SO9'") == (
        5.0,
        date(2026, 2, 1),
    )
    apply(store, ce("e3", "order.changed", {"sales_order_id": "SO9", "line_no": 1, "promised_date": "2026-02-10"}))
    assert one(store, "SELECT qty, promised_date FROM sales_orders WHERE sales_order_id='SO9'") == (
        5.0,
        date(2026, 2, 10),
    )
    apply(store, ce("e4", "order.cancelled", {"sales_order_id": "SO9", "line_no": 1}))
    assert one(store, "SELECT status FROM sales_orders WHERE sales_order_id='SO9'") == "cancelled"
    # A cancelled line cannot be changed any more.
    result = apply(store, ce("e5", "order.changed", {"sales_order_id": "SO9", "line_no": 1, "qty": 1}))
    assert result.rejected == 1 and "cancelled" in result.rejections[0][1]


def test_operation_completed_moves_the_order_to_in_progress_then_completed():
    store = plant()
    apply(store, ce("e1", "operation.completed", {"production_order_id": "P1", "op_seq": 10}))
    assert one(store, "SELECT status FROM operations WHERE production_order_id='P1' AND op_seq=10") == "done"
    assert one(store, "SELECT status FROM production_orders WHERE production_order_id='P1'") == "in_progress"
    apply(store, ce("e2", "operation.completed", {"production_order_id": "P1", "op_seq": 20}))
    assert one(store, "SELECT status FROM production_orders WHERE production_order_id='P1'") == "completed"
    # A single-operation order goes straight to completed.
    apply(store, ce("e3", "operation.completed", {"production_order_id": "P2", "op_seq": "10"}))
    assert one(store, "SELECT status FROM production_orders WHERE production_order_id='P2'") == "completed"


def test_receipt_partial_then_full_adds_stock_and_creates_the_lot():
    store = plant()
    result = apply(store, ce("e1", "receipt.posted", {"purchase_order_id": "PO1", "qty": 40, "lot_id": "RL1"}))
    assert result.applied == 1
    # Partial: the PO stays open with what is still due.
    assert one(store, "SELECT qty, status FROM purchase_orders WHERE purchase_order_id='PO1'") == (60.0, "open")
    assert one(store, "SELECT item_id, qty, status FROM lots WHERE lot_id='RL1'") == ("RM1", 40.0, "released")
    assert one(store, "SELECT qty FROM inventory WHERE item_id='RM1' AND location='RECEIVING' AND lot_id='RL1'") == 40.0
    apply(store, ce("e2", "receipt.posted", {"purchase_order_id": "PO1", "qty": 60}))
    assert one(store, "SELECT qty, status FROM purchase_orders WHERE purchase_order_id='PO1'") == (60.0, "received")
    assert (
        one(store, "SELECT qty FROM inventory WHERE item_id='RM1' AND location='RECEIVING' AND lot_id IS NULL") == 60.0
    )
    # Into an existing lot of the same item: the lot grows.
    apply(store, ce("e3", "receipt.posted", {"purchase_order_id": "PO1", "qty": 5, "lot_id": "LR"}))
    assert one(store, "SELECT qty FROM lots WHERE lot_id='LR'") == 15.0
    # A cancelled PO, or a lot of another item, is rejected.
    result = apply(
        store,
        ce("e4", "receipt.posted", {"purchase_order_id": "PO2", "qty": 5}),
        ce("e5", "receipt.posted", {"purchase_order_id": "PO1", "qty": 5, "lot_id": "L1"}),
    )
    assert result.rejected == 2
    assert "cancelled" in outcome_of(store, "e4")[1]
    assert "holds item FG1" in outcome_of(store, "e5")[1]


def test_shipment_shipped_ships_lots_and_the_line_when_all_its_shipments_are_shipped():
    store = plant()
    apply(store, ce("e1", "shipment.shipped", {"shipment_id": "SH1"}))
    assert one(store, "SELECT status FROM shipments WHERE shipment_id='SH1'") == "shipped"
    assert one(store, "SELECT status FROM lots WHERE lot_id='L1'") == "shipped"
    assert one(store, "SELECT status FROM sales_orders WHERE sales_order_id='SO1'") == "open"  # SH2 not yet
    apply(store, ce("e2", "shipment.shipped", {"shipment_id": "SH2"}))
    assert one(store, "SELECT status FROM sales_orders WHERE sales_order_id='SO1'") == "shipped"


def test_inventory_adjusted_adds_to_the_row_or_creates_it():
    store = plant()
    apply(
        store,
        ce("e1", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "qty_delta": -2}),
        ce("e2", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "qty_delta": 0.5}),
        ce("e3", "inventory.adjusted", {"item_id": "RM1", "location": "LINE1", "lot_id": "LR", "qty_delta": 3}),
    )
    assert one(store, "SELECT qty FROM inventory WHERE item_id='FG1' AND location='WH' AND lot_id IS NULL") == 3.5
    assert one(store, "SELECT qty FROM inventory WHERE item_id='RM1' AND location='LINE1' AND lot_id='LR'") == 3.0
    assert one(store, "SELECT count(*) FROM inventory") == 3


# --- history ----------------------------------------------------------------------------------------


def test_history_records_times_outcome_and_changes():
    store = plant()
    received = datetime(2026, 1, 5, 8, 0, 30)
    apply(store, ce("e1", "machine.down", {"machine_id": "M1", "reason": "jam"}, seq=1), received_at=received)
    [event] = event_history(store.cursor())
    assert event["id"] == "e1" and event["source"] == SOURCE and event["sequence"] == "1"
    assert event["time"] == datetime(2026, 1, 5, 8, 0) and event["received_at"] == received
    assert event["outcome"] == "applied" and event["applied_at"] >= event["time"]
    assert event["data"] == {"machine_id": "M1", "reason": "jam"}
    [change] = event["changes"]
    assert change["table"] == "machine_states" and change["key"] == "M1" and change["before"] is None
    assert change["after"]["state"] == "down"
    apply(store, ce("e2", "machine.up", {"machine_id": "M1"}, seq=2, time="2026-01-05T09:00:00Z"))
    change = event_history(store.cursor(), type="machine.up")[0]["changes"][0]
    assert change["before"]["state"] == "down" and change["after"]["state"] == "running"
    assert "since" in change["before"]


def test_history_filters_and_limit():
    store = plant()
    apply(
        store,
        ce("e1", "machine.down", {"machine_id": "M1"}, time="2026-01-05T08:00:00Z"),
        ce("e2", "machine.up", {"machine_id": "M1"}, time="2026-01-05T09:00:00Z"),
        ce("e3", "hold.placed", {"hold_id": "H1", "lot_id": "L1"}, time="2026-01-05T10:00:00Z"),
    )
    assert [e["id"] for e in event_history(store.cursor())] == ["e1", "e2", "e3"]
    assert [e["id"] for e in event_history(store.cursor(), type="machine.*")] == ["e1", "e2"]
    assert [e["id"] for e in event_history(store.cursor(), type="hold.placed")] == ["e3"]
    assert [e["id"] for e in event_history(store.cursor(), since=datetime(2026, 1, 5, 9))] == ["e2", "e3"]
    assert [e["id"] for e in event_history(store.cursor(), limit=2)] == ["e2", "e3"]


def test_lag_stats_measure_event_time_to_applied_time():
    store = plant()
    assert lag_stats(store.cursor())["count"] == 0
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    stamps = [(now - timedelta(seconds=s)).isoformat() + "Z" for s in (10, 20, 30)]
    apply(store, *[ce(f"e{i}", "machine.up", {"machine_id": "M1"}, time=t) for i, t in enumerate(stamps)])
    stats = lag_stats(store.cursor())
    assert stats["count"] == 3
    assert 20 <= stats["p50"] < 30 and 30 <= stats["max"] < 120
    assert stats["p50"] <= stats["p95"] <= stats["max"]


# --- once only, whatever arrives ------------------------------------------------------------------


def test_duplicates_within_a_batch_and_across_batches_apply_once():
    store = plant()
    down = ce("e1", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "qty_delta": 1})
    result = apply(store, down, dict(down))
    assert (result.applied, result.duplicates) == (1, 1)
    result = apply(store, dict(down), feed="another-feed")
    assert (result.applied, result.duplicates) == (0, 1)
    assert one(store, "SELECT qty FROM inventory WHERE item_id='FG1' AND location='WH'") == 6.0
    assert one(store, "SELECT count(*) FROM event_log") == 1
    # The same id from another source is another event.
    apply(
        store,
        ce("e1", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "qty_delta": 1}, source="urn:test:erp"),
    )
    assert one(store, "SELECT qty FROM inventory WHERE item_id='FG1' AND location='WH'") == 7.0


def test_batch_is_applied_in_sequence_order_and_the_cursor_ignores_older_sequences():
    store = plant()
    # Delivered out of order: down (1) and up (2) must end running.
    result = apply(
        store,
        ce("e2", "machine.up", {"machine_id": "M1"}, seq=2, time="2026-01-05T09:00:00Z"),
        ce("e1", "machine.down", {"machine_id": "M1"}, seq=1),
    )
    assert result.applied == 2 and result.last_sequence == "2"
    assert one(store, "SELECT state FROM machine_states WHERE machine_id='M1'") == "running"
    assert feed_cursor(store.cursor(), "test-feed") == "2"
    # Gaps are fine; an event at or below the cursor is ignored.
    result = apply(
        store,
        ce("e5", "machine.down", {"machine_id": "M1"}, seq=5),
        ce("e0", "machine.down", {"machine_id": "M2"}, seq=2),
    )
    assert (result.applied, result.duplicates, result.last_sequence) == (1, 1, "5")
    assert one(store, "SELECT state FROM machine_states WHERE machine_id='M2'") == "idle"


def test_unknown_types_are_kept_and_never_fatal():
    store = plant()
    result = apply(
        store,
        ce("e1", "maintenance.scheduled", {"machine_id": "M1"}, seq=1),
        ce("e2", "machine.down", {"machine_id": "M1"}, seq=2),
    )
    assert (result.applied, result.unknown) == (1, 1)
    assert outcome_of(store, "e1") == ("unknown_type", None)
    assert event_history(store.cursor(), type="maintenance.scheduled")[0]["data"] == {"machine_id": "M1"}


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (ce("x", "machine.down", {"machine_id": "M1"}, specversion="0.3"), "specversion"),
        (
            {"specversion": "1.0", "id": "x", "source": SOURCE, "type": "machine.up", "data": {"machine_id": "M1"}},
            "missing time",
        ),
        (ce("x", "machine.up", {"machine_id": "M1"}, time="yesterday"), "RFC 3339"),
        (ce("x", "machine.up", {"machine_id": "M1"}, seq=""), "sequence is an empty string"),
        (ce("x", "machine.up", {"machine_id": "M1"}, seq="7\n8"), "control character"),
        (ce("x", "machine.up", {"machine_id": "M1"}, seq=1.5), "sequence must be a string or an integer"),
        (ce("x", "machine.up", ["M1"]), "data must be a JSON object"),
        (ce("x", "machine.up", None), "missing data"),
        (ce("x", "machine.down", {}), "data.machine_id is missing"),
        (ce("x", "machine.down", {"machine_id": "M1", "expected_minutes": "soon"}), "expected_minutes"),
        (
            ce(
                "x",
                "order.confirmed",
                {
                    "sales_order_id": "S",
                    "line_no": 1,
                    "customer_id": "C1",
                    "item_id": "FG1",
                    "qty": -1,
                    "promised_date": "2026-02-01",
                },
            ),
            "greater than 0",
        ),
        (
            ce(
                "x",
                "order.confirmed",
                {
                    "sales_order_id": "S",
                    "line_no": 1,
                    "customer_id": "C1",
                    "item_id": "FG1",
                    "qty": 1,
                    "promised_date": "soon",
                },
            ),
            "not a date",
        ),
        (ce("x", "order.changed", {"sales_order_id": "SO1", "line_no": 1}), "nothing to change"),
        (ce("x", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "qty_delta": "2"}), "must be a number"),
        # Values that parse but do not fit the store: rejected, not a failed batch.
        (ce("x", "machine.up", {"machine_id": "M1"}, time="0001-01-01T00:30:00+01:00"), "out of range"),
        (ce("x", "machine.up", {"machine_id": "M1"}, time="9999-12-31T23:30:00-01:00"), "out of range"),
        (ce("x", "machine.up", {"machine_id": "M1"}, seq=2**63), "above"),
        (ce("x", "machine.up", {"machine_id": "M1"}, seq="9" * 257), "longer than 256"),
        (ce("x", "machine.down", {"machine_id": "M1", "expected_minutes": 3_000_000_000}), "at most"),
        (ce("x", "order.cancelled", {"sales_order_id": "SO1", "line_no": 2**31}), "at most"),
        (ce("x", "operation.completed", {"production_order_id": "P1", "op_seq": 2**40}), "at most"),
    ],
)
def test_malformed_events_are_rejected_with_the_reason_and_the_batch_goes_on(event, reason):
    store = plant()
    result = apply(store, event, ce("ok", "machine.down", {"machine_id": "M2"}))
    assert (result.applied, result.rejected) == (1, 1)
    outcome, why = outcome_of(store, result.rejections[0][0])
    assert outcome == "rejected" and reason in why
    assert one(store, "SELECT state FROM machine_states WHERE machine_id='M2'") == "down"


def test_something_that_is_not_an_event_at_all_is_kept_as_rejected():
    store = plant()
    result = apply(store, {"hello": "world"}, 42)
    assert result.rejected == 2
    rows = store.cursor().execute("SELECT source, outcome, reason, data FROM event_log ORDER BY reason").fetchall()
    assert all(r[0] == "test-feed" and r[1] == "rejected" for r in rows)
    assert any("not a JSON object" in r[2] for r in rows)
    assert {"invalid": 42} in [json.loads(r[3]) for r in rows]  # what arrived is kept as it was


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (ce("x", "machine.down", {"machine_id": "M404"}), "unknown machine M404"),
        (ce("x", "machine.up", {"machine_id": "M404"}), "unknown machine M404"),
        (ce("x", "hold.placed", {"hold_id": "H9", "lot_id": "L404"}), "unknown lot L404"),
        (ce("x", "hold.placed", {"hold_id": "H0", "lot_id": "L1"}), "already exists"),
        (ce("x", "hold.released", {"hold_id": "H404"}), "unknown hold H404"),
        (
            ce(
                "x",
                "order.confirmed",
                {
                    "sales_order_id": "SO1",
                    "line_no": 1,
                    "customer_id": "C1",
                    "item_id": "FG1",
                    "qty": 1,
                    "promised_date": "2026-02-01",
                },
            ),
            "already exists",
        ),
        (
            ce(
                "x",
                "order.confirmed",
                {
                    "sales_order_id": "S9",
                    "line_no": 1,
                    "customer_id": "C404",
                    "item_id": "FG1",
                    "qty": 1,
                    "promised_date": "2026-02-01",
                },
            ),
            "unknown customer C404",
        ),
        (
            ce(
                "x",
                "order.confirmed",
                {
                    "sales_order_id": "S9",
                    "line_no": 1,
                    "customer_id": "C1",
                    "item_id": "I404",
                    "qty": 1,
                    "promised_date": "2026-02-01",
                },
            ),
            "unknown item I404",
        ),
        (ce("x", "order.changed", {"sales_order_id": "SO404", "line_no": 1, "qty": 2}), "unknown sales order line"),
        (ce("x", "order.cancelled", {"sales_order_id": "SO1", "line_no": 7}), "unknown sales order line SO1/7"),
        (ce("x", "operation.completed", {"production_order_id": "P1", "op_seq": 99}), "unknown operation P1/99"),
        (ce("x", "receipt.posted", {"purchase_order_id": "PO404", "qty": 1}), "unknown purchase order"),
        (ce("x", "shipment.shipped", {"shipment_id": "SH404"}), "unknown shipment SH404"),
        (ce("x", "inventory.adjusted", {"item_id": "I404", "location": "WH", "qty_delta": 1}), "unknown item I404"),
        (
            ce("x", "inventory.adjusted", {"item_id": "FG1", "location": "WH", "lot_id": "L404", "qty_delta": 1}),
            "unknown lot L404",
        ),
    ],
)
def test_events_naming_unknown_things_are_rejected_and_change_nothing(event, reason):
    store = plant()
    before = snapshot_state(store)
    result = apply(store, event)
    assert result.rejected == 1 and reason in result.rejections[0][1]
    after = snapshot_state(store)
    assert {k: v for k, v in after.items() if k not in ("event_log", "feed_cursors")} == {
        k: v for k, v in before.items() if k not in ("event_log", "feed_cursors")
    }
    assert outcome_of(store, "x")[0] == "rejected"


def test_an_exception_mid_batch_leaves_nothing_applied(monkeypatch):
    store = plant()
    apply(store, ce("e0", "machine.down", {"machine_id": "M1"}, seq=1))
    before = snapshot_state(store)
    original = working.write_table

    def failing(plant_, name):
        original(plant_, name)
        if name == "lots":  # after machine_states, quality_holds and lots were written
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(working, "write_table", failing)
    with pytest.raises(RuntimeError):
        apply(
            store,
            ce("e1", "machine.up", {"machine_id": "M1"}, seq=2),
            ce("e2", "hold.placed", {"hold_id": "H1", "lot_id": "L1"}, seq=3),
        )
    assert snapshot_state(store) == before
    monkeypatch.setattr(working, "write_table", original)
    result = apply(
        store,
        ce("e1", "machine.up", {"machine_id": "M1"}, seq=2),
        ce("e2", "hold.placed", {"hold_id": "H1", "lot_id": "L1"}, seq=3),
    )
    assert result.applied == 2


def test_an_event_the_store_cannot_write_is_rejected_alone_and_the_rest_of_its_batch_applied():
    # A backstop for whatever the validators miss: here a normalised event whose sequence holds a lone
    # surrogate (no UTF-8 writer can store it) fails the batch's write; its neighbours still apply and
    # the cursor moves on.
    store = plant()
    bad = events_module.parse_event(ce("bad", "machine.up", {"machine_id": "M1"}, seq=5), fallback_source="f")
    bad["sequence"] = "5\ud800"
    result = apply(
        store,
        ce("ok1", "machine.down", {"machine_id": "M1"}, seq=3),
        bad,
        ce("ok2", "machine.down", {"machine_id": "M2"}, seq=4),
    )
    assert (result.applied, result.rejected) == (2, 1)
    outcome, why = outcome_of(store, "bad")
    assert outcome == "rejected" and "could not be stored" in why
    assert one(store, "SELECT count(*) FROM machine_states WHERE state = 'down'") >= 2
    assert feed_cursor(store.cursor(), "test-feed") == "4"
    # The next batch goes through the fast path again.
    assert apply(store, ce("ok3", "machine.up", {"machine_id": "M2"}, seq=6)).applied == 1


def test_an_event_written_by_the_official_cloudevents_sdk_is_accepted():
    try:
        from cloudevents.conversion import to_json
        from cloudevents.http import CloudEvent
    except ImportError:  # cloudevents 2.x keeps the 1.x API under cloudevents.v1
        from cloudevents.v1.conversion import to_json
        from cloudevents.v1.http import CloudEvent

    event = CloudEvent(
        {"type": "machine.down", "source": "urn:plant:mes", "sequence": "7"},
        {"machine_id": "M1", "reason": "sensor", "expected_minutes": 30},
    )
    document = json.loads(to_json(event))
    store = plant()
    result = apply(store, document)
    assert result.applied == 1 and result.last_sequence == "7"
    assert one(store, "SELECT state, expected_minutes FROM machine_states WHERE machine_id='M1'") == ("down", 30)


def test_nanosecond_times_and_offsets_are_read_as_utc():
    store = plant()
    apply(store, ce("e1", "machine.down", {"machine_id": "M1"}, time="2026-01-05T10:00:00.123456789-02:00"))
    assert one(store, "SELECT since FROM machine_states WHERE machine_id='M1'") == datetime(
        2026, 1, 5, 12, 0, 0, 123456
    )


def test_an_order_completes_when_its_last_open_operation_is_done_even_if_others_were_done_before():
    store = plant()
    store.con.execute("UPDATE operations SET status = 'done' WHERE production_order_id = 'P1' AND op_seq = 10")
    result = apply(
        store,
        ce("e1", "operation.completed", {"production_order_id": "P1", "op_seq": 10}),
        ce("e2", "operation.completed", {"production_order_id": "P1", "op_seq": 20}),
    )
    assert result.applied == 2  # completing a done operation again is a no-op, not an error
    assert one(store, "SELECT status FROM production_orders WHERE production_order_id='P1'") == "completed"


# --- lookup indexes (made on a large plant; forced here on the small one) ----------------------------


@pytest.mark.parametrize(
    "scenario",
    [
        test_hold_placed_and_released_keeps_lot_held_while_another_hold_is_active,
        test_order_confirmed_changed_cancelled,
        test_operation_completed_moves_the_order_to_in_progress_then_completed,
        test_receipt_partial_then_full_adds_stock_and_creates_the_lot,
        test_shipment_shipped_ships_lots_and_the_line_when_all_its_shipments_are_shipped,
        test_an_order_completes_when_its_last_open_operation_is_done_even_if_others_were_done_before,
    ],
)
def test_the_rules_hold_when_lookups_go_through_the_indexes(monkeypatch, scenario):
    monkeypatch.setattr(working, "INDEX_MIN_ROWS", 0)
    scenario()


def test_the_first_apply_to_a_large_plant_creates_the_lookup_indexes_once(monkeypatch):
    store = plant()

    def names() -> set[str]:
        found = store.con.execute(
            "SELECT index_name FROM duckdb_indexes() WHERE starts_with(index_name, 'planner_events_')"
        ).fetchall()
        return {r[0] for r in found}

    apply(store, ce("e1", "machine.up", {"machine_id": "M1"}))
    assert names() == set()  # a small plant: scans are as fast
    monkeypatch.setattr(working, "INDEX_MIN_ROWS", 0)
    apply(store, ce("e2", "machine.down", {"machine_id": "M1"}))
    assert names() == {f"planner_events_{t}_{c}" for t, c in working._LOOKUP_INDEXES}
    apply(store, ce("e3", "machine.up", {"machine_id": "M1"}))
    assert one(store, "SELECT state FROM machine_states WHERE machine_id='M1'") == "running"


def test_received_at_may_come_with_each_event():
    store = plant()
    event = events_module.parse_event(ce("e1", "machine.up", {"machine_id": "M1"}), fallback_source=SOURCE)
    event["received_at"] = datetime(2026, 1, 5, 8, 0, 1)
    apply(store, event, received_at=datetime(2026, 1, 5, 8, 0, 5))
    assert one(store, "SELECT received_at FROM event_log WHERE event_id='e1'") == datetime(2026, 1, 5, 8, 0, 1)


def test_an_index_that_cannot_be_made_leaves_the_lookups_as_scans_and_is_not_tried_again(monkeypatch):
    store = plant()
    monkeypatch.setattr(working, "INDEX_MIN_ROWS", 0)
    monkeypatch.setattr(working, "index_name", lambda table, column: 'not"valid')
    assert apply(store, ce("e1", "machine.down", {"machine_id": "M1"})).applied == 1
    assert working._FAILED_INDEXES[store] == set(working._LOOKUP_INDEXES)
    assert apply(store, ce("e2", "operation.completed", {"production_order_id": "P1", "op_seq": 10})).applied == 1
    assert one(store, "SELECT status FROM production_orders WHERE production_order_id='P1'") == "in_progress"


def test_envelope_attributes_that_are_not_strings_are_rejected_not_fatal():
    """CloudEvents' source, id and type are strings; anything else is a malformed event kept as rejected."""
    store = plant()
    bad = ce("e-bad", "machine.up", {"machine_id": "M1"}, seq=1)
    bad["type"] = {"not": "a string"}
    good = ce("e-good", "machine.up", {"machine_id": "M1"}, seq=2)
    result = apply_events(store, [bad, good], feed="test")
    assert (result.applied, result.rejected) == (1, 1)
    assert "type must be a string" in one(store, "SELECT reason FROM event_log WHERE outcome = 'rejected'")
