"""A deterministic synthetic plant at any size, written as Parquet, for benchmarks and tests.

    counts = generate_plant("bench-data/large", scale=1.0, seed=1)

Scale 1 is the large end: about 2,000 machines, 20,000 items, 200,000 production orders, 1,000,000
operations, 500,000 sales order lines and 1,000,000 lot genealogy edges (every other table in
proportion); scale 0.01 is about 1% of that. The same scale and seed give byte-identical files; another
seed gives another plant of the same shape.

The plant has the sample plant's structure (`sample_data/`): a four-level BOM (finished -> subassembly
-> component -> raw), make-to-order chains (a finished-goods order for a sales order line, fed by
subassembly orders, one of them fed by a component order) and make-to-stock orders, lots whose genealogy
follows the BOM, shipments carrying lots, a few machines down and a few active quality holds. By default
it works around the clock (no machine or resource names a calendar); a calendar is defined and some
operations need their machine's fixture, neither of which changes an answer.

With `calendars=True` the plant works, and is planned, in working time (issue 11): every machine on
TWO-SHIFT (06:00-14:00 and 14:00-22:00 Monday to Friday, Europe/Berlin, which is also snapshot.json's
`timezone` and plant `calendar`), closed on weekends and on public holidays (calendar_exceptions), and an
operator (a person resource) on about a third of the operations. The same plan is laid on working time
only: working day d's 2-hour slots are 8 d .. 8 d + 7 from its first shift's start (each day's own UTC
offset, computed here, so the plan stays exact past a change of the clocks), so every operation lies
inside one shift of a working day. Operators go by lane: a lane's operations follow one another in time,
so one operator per lane (on TWO-SHIFT) is never double-booked; `shift_operators=True` gives each lane
two, one per shift, on their shift's calendar (then an operation delayed past its shift's end waits for
the next one, and a delay snowballs down the lane). The plan starts 15 working days before as_of
(about as many slots done as round the clock), and the rest of the plant follows from the plan as it
does round the clock. Every rule of the repair (engine/schedule.py) holds at planned times, so a repair
without a stop moves nothing. The default's output is unchanged, byte for byte.

Everything is built in DuckDB SQL from `range()` and `hash()` (no `random()`), so it is fast and
reproducible. The plan is feasible by construction:

* Each line of machines (up to 10) has as many *lanes* as machines. Time is cut into 2-hour slots; at
  slot s, lane l of a line uses machine (l + s) mod K of that line. For a fixed slot that is a one-to-one
  map, so two lanes never share a machine in the same slot, and every operation lies inside its slot:
  each machine runs one operation at a time.
* An order's operations take consecutive slots of one lane (op_seq order), and a chain's orders are laid
  out in its lane feeders first, so every feeder ends before the order it feeds begins.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from planner_tui.errors import BadRequest
from planner_tui.generate.names import FAMILIES, FIRST, KINDS, LAST, LEGAL, RAW_UOM, RAWS, REGION, TRADE
from planner_tui.store.contract import TABLES

AS_OF = datetime(2026, 11, 23, 6, 0)
HISTORY_DAYS = 10  # the plan starts this long before as_of, so part of it is done
SLOT_MINUTES = 120
LINE_SIZE = 10

# The plant planned in working time (`calendars=True`): two shifts Monday to Friday in the plant's local
# time, closed on weekends and public holidays; its 2-hour slots are laid on working time only.
TIMEZONE = "Europe/Berlin"
TWO_SHIFT = "TWO-SHIFT"  # every machine's calendar, and the plant's
SHIFTS = (("EARLY", "06:00", "14:00"), ("LATE", "14:00", "22:00"))  # names: shift operators' calendars
SLOTS_PER_SHIFT = 8 * 60 // SLOT_MINUTES
SLOTS_PER_DAY = len(SHIFTS) * SLOTS_PER_SHIFT
HOLIDAYS = ((date(2026, 12, 25), "Christmas Day"), (date(2027, 1, 1), "New Year's Day"))
HISTORY_WORKING_DAYS = 15  # the plan starts this many working days before as_of: ~120 slots done, as above
WORKING_DAYS = 1300  # the working days laid out (five years): far more slots than any lane's plan needs

# Scale-1 sizes; every count is scaled and kept above a small floor so tiny scales stay whole.
BASE = {
    "machines": (2000, 12),
    "items": (20000, 40),
    "customers": (5000, 6),
    "production_orders": (200000, 30),
    "sales_orders": (500000, 40),
    "purchase_orders": (100000, 12),
    "quality_holds": (2000, 4),
}
# Lots per item by item type (drives the lot and genealogy volumes: about 1,000,000 edges at scale 1).
LOTS_PER_ITEM = {"finished": 45, "subassembly": 35, "component": 30, "raw": 15}


def _count(name: str, scale: float) -> int:
    base, floor = BASE[name]
    return max(floor, int(round(base * scale)))


def _strings(values: list[str]) -> str:
    """A SQL list literal of constant strings (only this module's own constants go through here)."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _sql(scale: float, seed: int, calendars: bool = False, shift_operators: bool = False) -> list[str]:
    n_machines = _count("machines", scale)
    n_items = _count("items", scale)
    n_fg = max(3, n_items * 15 // 100)
    n_sa = max(3, n_items * 20 // 100)
    n_cp = max(4, n_items * 30 // 100)
    n_rm = max(4, n_items - n_fg - n_sa - n_cp)
    n_cust = _count("customers", scale)
    n_orders = _count("production_orders", scale)
    n_chains = max(12, int(round(n_orders / 2.4)))  # 35% of 4 orders, 35% of 2, 30% of 1
    n_lines = _count("sales_orders", scale)
    n_po = _count("purchase_orders", scale)
    n_holds = _count("quality_holds", scale)
    n_managers = max(3, n_cust // 40)
    lpi = LOTS_PER_ITEM
    # off the slot grid by 50 minutes, so that some operations are running at as_of
    t0 = f"(TIMESTAMP '{AS_OF.isoformat(sep=' ')}' - INTERVAL {HISTORY_DAYS} DAY - INTERVAL 50 MINUTE)"
    as_of = f"TIMESTAMP '{AS_OF.isoformat(sep=' ')}'"
    seed = int(seed)
    if calendars:
        operations = f"""CREATE TABLE operations AS
            WITH placed AS (
                SELECT o.*, g.line_no, g.line_size,
                       5 * ri('off', o.member_key * 8 + o.op_seq, CAST(({SLOT_MINUTES} - o.dur) / 5 + 1 AS BIGINT)) AS off
                FROM g_ops o JOIN g_machines g ON g.m = o.lane),
            timed AS (
                -- slot s is slot s % SLOTS_PER_DAY of working day s // SLOTS_PER_DAY, from its first shift's start
                SELECT p.production_order_id, p.op_seq, p.lane, p.slot,
                       p.line_no * {LINE_SIZE} + ((p.lane % {LINE_SIZE}) + p.slot) % p.line_size AS m,
                       d.shift_start + to_minutes(CAST((p.slot % {SLOTS_PER_DAY}) * {SLOT_MINUTES} + p.off AS BIGINT))
                         AS planned_start,
                       d.shift_start + to_minutes(CAST((p.slot % {SLOTS_PER_DAY}) * {SLOT_MINUTES} + p.off + p.dur AS BIGINT))
                         AS planned_end
                FROM placed p JOIN g_days d ON d.d = p.slot // {SLOTS_PER_DAY})
            SELECT t.production_order_id, t.op_seq, mc.machine_id,
                   CAST(t.planned_start AS TIMESTAMP) AS planned_start, CAST(t.planned_end AS TIMESTAMP) AS planned_end,
                   CASE WHEN t.planned_end <= {as_of} THEN 'done' WHEN t.planned_start < {as_of} THEN 'running'
                        ELSE 'waiting' END AS status,
                   t.lane, t.slot
            FROM timed t JOIN machines mc ON mc.m = t.m"""
        # Operators: one per lane, on the machines' two shifts (`shift_operators`: two per lane, one per
        # shift, each on its shift's calendar). A lane's operations follow one another in time, so an
        # operator is never double-booked.
        if shift_operators:
            operator_calendars = [(c, suffix) for (c, _, _), suffix in zip(SHIFTS, ("-E", "-L"), strict=True)]
            operator_of = f"CASE WHEN slot % {SLOTS_PER_DAY} < {SLOTS_PER_SHIFT} THEN '-E' ELSE '-L' END"  # early slots
        else:
            operator_calendars = [(TWO_SHIFT, "")]
            operator_of = "''"
        calendar_ids = [TWO_SHIFT, *(c for c, _ in operator_calendars if c != TWO_SHIFT)]
        shifts = [(TWO_SHIFT, a, b) for _, a, b in SHIFTS] + [s for s in SHIFTS if s[0] in calendar_ids]
        calendar_tables = [
            # Two shifts Monday to Friday on every machine (the plant's calendar), closed on weekends and
            # public holidays. Every operation lies inside its slot, and every slot inside one shift of a
            # working day, so the plan honours every calendar.
            f"""CREATE TABLE calendars AS
            SELECT c.calendar_id, CAST(d AS INTEGER) AS weekday, c.start_time, c.end_time
            FROM range(1, 6) r(d),
                 (VALUES {", ".join(f"('{c}', '{a}', '{b}')" for c, a, b in shifts)}) c(calendar_id, start_time, end_time)""",
            f"""CREATE TABLE calendar_exceptions AS
            SELECT * FROM (VALUES {
                ", ".join(
                    f"('{c}', TIMESTAMP '{a}', TIMESTAMP '{b}', 'false', '{why}')"
                    for c in calendar_ids
                    for a, b, why in _holidays()
                )
            }) t(calendar_id, "start", "end", working, reason)""",
            # fixtures as in the round-the-clock plant (no calendar: the plant's), and the operators
            f"""CREATE TABLE resources AS
            SELECT 'FIX-' || substr(machine_id, 3) AS resource_id, 'Fixture for ' || name AS name, 'tool' AS kind,
                   CAST(NULL AS VARCHAR) AS calendar_id, supervisor, machine_id
            FROM machines WHERE m % {LINE_SIZE} = 0
            UNION ALL
            SELECT 'OP-' || lpad(CAST(l AS VARCHAR), 5, '0') || s.suffix, person(500 + ri('opname', l * 2 + s.k, 400)),
                   'person', s.calendar_id, person(ri('supervisor', l // {LINE_SIZE}, 400)), CAST(NULL AS VARCHAR)
            FROM range({n_machines}) r(l),
                 (VALUES {", ".join(f"({k}, '{suffix}', '{c}')" for k, (c, suffix) in enumerate(operator_calendars))})
                 s(k, suffix, calendar_id)""",
            # an operator on about a third of the operations: its lane's (of its shift's)
            f"""CREATE TABLE operation_resources AS
            SELECT o.production_order_id, o.op_seq, r.resource_id
            FROM operations o JOIN resources r ON r.machine_id = o.machine_id
            WHERE ri('fixture', hash(o.production_order_id, o.op_seq), 3) = 0
            UNION ALL
            SELECT production_order_id, op_seq, 'OP-' || lpad(CAST(lane AS VARCHAR), 5, '0') || {operator_of}
            FROM operations WHERE ri('operator', hash(production_order_id, op_seq), 3) = 0""",
        ]
    else:
        operations = f"""CREATE TABLE operations AS
            WITH placed AS (
                SELECT o.*, g.line_no, g.line_size,
                       5 * ri('off', o.member_key * 8 + o.op_seq, CAST(({SLOT_MINUTES} - o.dur) / 5 + 1 AS BIGINT)) AS off
                FROM g_ops o JOIN g_machines g ON g.m = o.lane),
            timed AS (
                SELECT production_order_id, op_seq,
                       line_no * {LINE_SIZE} + ((lane % {LINE_SIZE}) + slot) % line_size AS m,
                       {t0} + to_minutes(CAST(slot * {SLOT_MINUTES} + off AS BIGINT)) AS planned_start,
                       {t0} + to_minutes(CAST(slot * {SLOT_MINUTES} + off + dur AS BIGINT)) AS planned_end
                FROM placed)
            SELECT t.production_order_id, t.op_seq, mc.machine_id,
                   CAST(t.planned_start AS TIMESTAMP) AS planned_start, CAST(t.planned_end AS TIMESTAMP) AS planned_end,
                   CASE WHEN t.planned_end <= {as_of} THEN 'done' WHEN t.planned_start < {as_of} THEN 'running'
                        ELSE 'waiting' END AS status
            FROM timed t JOIN machines mc ON mc.m = t.m"""
        calendar_tables = [
            # ---------------------------------------------------------------- calendars and resources
            # The plan runs around the clock, and so does the plant: no machine or resource names a calendar,
            # so every minute is working time. A continuous three-shift calendar is defined (unused, with a
            # stocktaking closure before the plan), and some operations need their machine's own fixture (a
            # tool used on that machine only, so it changes no answer). Shift patterns that change answers
            # are for a generator option (issue 11).
            """CREATE TABLE calendars AS
            SELECT 'CONT-3SHIFT' AS calendar_id, CAST(d AS INTEGER) AS weekday, s.start_time, s.end_time
            FROM range(1, 8) r(d),
                 (VALUES ('00:00', '06:00'), ('06:00', '14:00'), ('14:00', '22:00'), ('22:00', '24:00'))
                 s(start_time, end_time)""",
            f"""CREATE TABLE calendar_exceptions AS
            SELECT 'CONT-3SHIFT' AS calendar_id, CAST({t0} - INTERVAL 14 DAY AS TIMESTAMP) AS "start",
                   CAST({t0} - INTERVAL 13 DAY AS TIMESTAMP) AS "end", 'false' AS working, 'Stocktaking' AS reason""",
            f"""CREATE TABLE resources AS
            SELECT 'FIX-' || substr(machine_id, 3) AS resource_id, 'Fixture for ' || name AS name, 'tool' AS kind,
                   CAST(NULL AS VARCHAR) AS calendar_id, supervisor, machine_id
            FROM machines WHERE m % {LINE_SIZE} = 0""",
            """CREATE TABLE operation_resources AS
            SELECT o.production_order_id, o.op_seq, r.resource_id
            FROM operations o JOIN resources r ON r.machine_id = o.machine_id
            WHERE ri('fixture', hash(o.production_order_id, o.op_seq), 3) = 0""",
        ]
    machine_calendar = f"'{TWO_SHIFT}'" if calendars else "CAST(NULL AS VARCHAR)"
    days = []
    if calendars:
        starts = _working_days()
        days = [
            # working day d's first shift starts at shift_start (naive UTC, so each day's own UTC offset)
            "CREATE TABLE g_days AS SELECT * FROM (VALUES "
            + ", ".join(f"({d}, TIMESTAMP '{t.isoformat(sep=' ')}')" for d, t in enumerate(starts))
            + ") t(d, shift_start)",
            f"SELECT CASE WHEN max(slot) >= {len(starts) * SLOTS_PER_DAY} "
            "THEN error('the plan needs more working days than the generator lays out') END FROM g_ops",
        ]
    statements = [
        # hash-based pseudo-random: ri = integer in [0, n), u = fraction in [0, 1)
        f"CREATE MACRO ri(tag, i, n) AS CAST(hash(tag, i, {seed}) % CAST(n AS UBIGINT) AS BIGINT)",
        f"CREATE MACRO u(tag, i) AS CAST(hash(tag, i, {seed}) % 1000000 AS DOUBLE) / 1000000.0",
        f"CREATE MACRO person(i) AS {_strings(FIRST)}[1 + (i % 20)] || ' ' || {_strings(LAST)}[1 + ((i // 20) % 20)]",
        "CREATE MACRO lot_of(kind, item, k) AS 'L-' || kind || lpad(CAST(item AS VARCHAR), 6, '0') "
        "|| '-' || lpad(CAST(k AS VARCHAR), 3, '0')",
        # ---------------------------------------------------------------- machines
        f"""CREATE TABLE g_machines AS
        SELECT m, m // {LINE_SIZE} AS line_no, m % {LINE_SIZE} AS pos,
               least({LINE_SIZE}, {n_machines} - (m // {LINE_SIZE}) * {LINE_SIZE}) AS line_size
        FROM range({n_machines}) r(m)""",
        f"""CREATE TABLE machines AS
        SELECT 'M-' || {_strings([k[0] for k in KINDS])}[1 + pos] || '-' || lpad(CAST(m AS VARCHAR), 4, '0') AS machine_id,
               {_strings([k[1] for k in KINDS])}[1 + pos] || ' ' || (line_no + 1) AS name,
               {_strings([k[2] for k in KINDS])}[1 + pos] AS work_center,
               'L' || lpad(CAST(line_no + 1 AS VARCHAR), 3, '0') AS line,
               'PLANT-' || lpad(CAST(line_no // 50 + 1 AS VARCHAR), 2, '0') AS plant,
               person(ri('supervisor', line_no, 400)) AS supervisor,
               {machine_calendar} AS calendar_id, m
        FROM g_machines""",
        f"""CREATE TABLE machine_states AS
        SELECT machine_id,
               CASE WHEN m % 150 = 7 OR m = 2 THEN 'down'
                    WHEN m % 97 = 5 THEN 'maintenance'
                    WHEN ri('idle', m, 10) = 0 THEN 'idle' ELSE 'running' END AS state,
               CAST({as_of} - to_minutes(CAST(5 + ri('since', m, 600) AS BIGINT)) AS TIMESTAMP) AS since,
               CASE WHEN m % 150 = 7 OR m = 2 THEN
                        {
            _strings(
                [
                    "Hydraulic leak",
                    "Servo drive fault",
                    "Torch collision",
                    "Spindle alarm",
                    "Conveyor jam",
                    "Safety fence interlock",
                ]
            )
        }[1 + ri('why', m, 6)]
                    WHEN m % 97 = 5 THEN 'Planned maintenance' END AS reason,
               CAST(CASE WHEN m % 150 = 7 OR m = 2 THEN 60 + 30 * ri('expect', m, 10) END AS INTEGER)
                   AS expected_minutes
        FROM machines""",
        # ---------------------------------------------------------------- items and BOM
        f"""CREATE TABLE g_items AS
        SELECT 'finished' AS item_type, 'FG' AS kind, i FROM range({n_fg}) r(i)
        UNION ALL SELECT 'subassembly', 'SA', i FROM range({n_sa}) r(i)
        UNION ALL SELECT 'component', 'CP', i FROM range({n_cp}) r(i)
        UNION ALL SELECT 'raw', 'RM', i FROM range({n_rm}) r(i)""",
        f"""CREATE TABLE items AS
        SELECT kind || '-' || lpad(CAST(i AS VARCHAR), 6, '0') AS item_id,
               CASE kind
                 WHEN 'FG' THEN {_strings(FAMILIES)}[1 + i % {len(FAMILIES)}] || ' model ' || (100 + i)
                 WHEN 'SA' THEN {
            _strings(["Welded base frame", "Machined housing", "Welded tank", "Drive frame"])
        }[1 + i % 4] || ' ' || (100 + i)
                 WHEN 'CP' THEN {
            _strings(["Laser-cut rail", "Bent panel", "Cut tube", "Machined flange", "Impeller"])
        }[1 + i % 5] || ' ' || (100 + i)
                 ELSE {_strings(RAWS)}[1 + i % {len(RAWS)}] || ' grade ' || (i // {len(RAWS)} + 1) END
                 AS description,
               item_type,
               CASE kind WHEN 'RM' THEN {_strings(RAW_UOM)}[1 + i % {len(RAWS)}] ELSE 'ea' END AS uom,
               CAST(CASE WHEN kind IN ('RM', 'CP') THEN 5 * ri('ss', i, 10) ELSE 0 END AS DOUBLE) AS safety_stock,
               CASE WHEN kind IN ('RM', 'CP') THEN person(ri('buyer', i, 12) + 100) END AS buyer,
               kind, i
        FROM g_items""",
        # finished -> 2 subassemblies + 1-2 raws; subassembly -> 2 components + 1 raw; component -> 1 raw
        f"""CREATE MACRO fg_sa(f, k) AS (2 * f + k) % {n_sa}""",
        f"""CREATE MACRO sa_cp(s, k) AS (2 * s + k) % {n_cp}""",
        f"""CREATE MACRO fg_rm(f, k) AS (7 * f + k) % {n_rm}""",
        f"""CREATE MACRO sa_rm(s) AS (11 * s + 3) % {n_rm}""",
        f"""CREATE MACRO cp_rm(c) AS (13 * c + 5) % {n_rm}""",
        """CREATE MACRO iid(kind, i) AS kind || '-' || lpad(CAST(i AS VARCHAR), 6, '0')""",
        f"""CREATE TABLE bom AS
        SELECT iid('FG', f) AS parent_item_id, iid('SA', fg_sa(f, k)) AS component_item_id, 1.0 AS qty_per
        FROM range({n_fg}) a(f), range(2) b(k)
        UNION ALL
        SELECT iid('FG', f), iid('RM', fg_rm(f, k)), CAST(0.5 * (1 + ri('q', f * 4 + k, 10)) AS DOUBLE)
        FROM range({n_fg}) a(f), range(2) b(k) WHERE k = 0 OR f % 2 = 1
        UNION ALL
        SELECT iid('SA', s), iid('CP', sa_cp(s, k)), 2.0 FROM range({n_sa}) a(s), range(2) b(k)
        UNION ALL
        SELECT iid('SA', s), iid('RM', sa_rm(s)), CAST(0.2 * (1 + ri('q2', s, 10)) AS DOUBLE) FROM range({n_sa}) a(s)
        UNION ALL
        SELECT iid('CP', c), iid('RM', cp_rm(c)), CAST(1 + ri('q3', c, 40) AS DOUBLE) FROM range({n_cp}) a(c)""",
        # ---------------------------------------------------------------- customers
        f"""CREATE TABLE customers AS
        SELECT 'C-' || lpad(CAST(c AS VARCHAR), 6, '0') AS customer_id,
               {_strings(REGION)}[1 + ri('cr', c, {len(REGION)})] || ' '
                 || {_strings(TRADE)}[1 + ri('ct', c, {len(TRADE)})] || ' '
                 || {_strings(LEGAL)}[1 + ri('cl', c, {len(LEGAL)})] AS name,
               CASE WHEN ri('tier', c, 10) < 2 THEN 'A' WHEN ri('tier', c, 10) < 6 THEN 'B' ELSE 'C' END AS tier,
               person(200 + ri('am', c, {n_managers})) AS account_manager
        FROM range({n_cust}) r(c)""",
        # ---------------------------------------------------------------- chains and production orders
        # chain kind: 0 = make to order, full (FG <- SA_a <- CP, FG <- SA_b); 1 = make to order, short
        # (FG <- SA); 2 = make to stock, one order
        f"""CREATE TABLE g_chains AS
        SELECT c,
               CASE WHEN ri('kind', c, 20) < 7 THEN 0 WHEN ri('kind', c, 20) < 14 THEN 1 ELSE 2 END AS kind,
               c % {n_machines} AS lane,
               ri('fg', c, {n_fg}) AS f,
               ri('gap', c, 3) AS gap
        FROM range({n_chains}) r(c)""",
        # members in lane order (feeders first); parent is the member it feeds
        """CREATE TABLE g_template AS
        SELECT * FROM (VALUES
            (0, 0, 'CP', 1, false), (0, 1, 'SA', 3, false), (0, 2, 'SA', 3, false), (0, 3, 'FG', NULL, false),
            (1, 0, 'SA', 1, false), (1, 1, 'FG', NULL, false),
            (2, 0, 'ANY', NULL, true)) t(kind, pos, kind_item, parent_pos, mts)""",
        f"""CREATE TABLE g_members AS
        SELECT c.c, c.kind, c.lane, c.gap, t.pos, t.parent_pos, t.mts,
               c.c * 4 + t.pos AS member_key,
               3 + ri('nops', c.c * 4 + t.pos, 5) AS n_ops,
               CASE
                 WHEN t.kind_item = 'FG' THEN iid('FG', c.f)
                 WHEN t.kind_item = 'SA' AND c.kind = 0 AND t.pos = 1 THEN iid('SA', fg_sa(c.f, 0))
                 WHEN t.kind_item = 'SA' AND c.kind = 0 AND t.pos = 2 THEN iid('SA', fg_sa(c.f, 1))
                 WHEN t.kind_item = 'SA' THEN iid('SA', fg_sa(c.f, ri('sak', c.c, 2)))
                 WHEN t.kind_item = 'CP' THEN iid('CP', sa_cp(fg_sa(c.f, 0), 0))
                 WHEN ri('mtsk', c.c, 3) = 0 THEN iid('FG', c.f)
                 WHEN ri('mtsk', c.c, 3) = 1 THEN iid('SA', ri('mtsi', c.c, {n_sa}))
                 ELSE iid('CP', ri('mtsi', c.c, {n_cp})) END AS item_id,
               CASE WHEN t.mts THEN 10 * (1 + ri('mtsq', c.c, 10)) ELSE 1 + ri('qty', c.c, 12) END
                 * CASE WHEN t.kind_item = 'CP' THEN 2 ELSE 1 END AS qty
        FROM g_chains c JOIN g_template t ON t.kind = c.kind""",
        # slots: a chain starts where the previous chain of its lane ended (plus its gap)
        """CREATE TABLE g_chain_len AS
        SELECT c, lane, sum(n_ops) + any_value(gap) AS len FROM g_members GROUP BY c, lane""",
        """CREATE TABLE g_chain_start AS
        SELECT c, sum(len) OVER (PARTITION BY lane ORDER BY c ROWS UNBOUNDED PRECEDING) - len AS start_slot
        FROM g_chain_len""",
        """CREATE TABLE g_orders AS
        SELECT m.*, s.start_slot + sum(m.n_ops) OVER (PARTITION BY m.c ORDER BY m.pos ROWS UNBOUNDED PRECEDING)
                    - m.n_ops AS first_slot,
               'PRO-' || lpad(CAST(m.member_key AS VARCHAR), 8, '0') AS production_order_id
        FROM g_members m JOIN g_chain_start s USING (c)""",
        """CREATE TABLE g_ops AS
        SELECT o.production_order_id, o.member_key, CAST(10 * (j + 1) AS INTEGER) AS op_seq,
               o.first_slot + j AS slot, o.lane,
               CAST(30 + 5 * ri('dur', o.member_key * 8 + j, 18) AS BIGINT) AS dur
        FROM g_orders o, range(7) r(j) WHERE j < o.n_ops""",
        *days,
        operations,
        """CREATE TABLE g_order_times AS
        SELECT production_order_id, min(planned_start) AS planned_start, max(planned_end) AS planned_end,
               bool_and(status = 'done') AS all_done, bool_or(status <> 'waiting') AS started
        FROM operations GROUP BY production_order_id""",
        # sales order lines: orders of 1-5 lines; a make-to-order chain is made for every stride-th line
        f"""CREATE TABLE g_lines AS
        WITH so AS (SELECT o, 1 + ri('solines', o, 5) AS k FROM range({n_lines} // 2 + 20) r(o)),
        exploded AS (SELECT o, l FROM so, range(5) r(l) WHERE l < k)
        SELECT row_number() OVER (ORDER BY o, l) - 1 AS i, o, CAST(l + 1 AS INTEGER) AS line_no
        FROM exploded QUALIFY i < {n_lines}""",
        # the r-th make-to-order chain is made for line r * stride, so they spread over all orders
        f"""CREATE TABLE g_mto AS
        SELECT c, (row_number() OVER (ORDER BY c) - 1)
                  * greatest(1, {n_lines} // (SELECT count(*) FROM g_chains WHERE kind < 2)) AS line_i
        FROM g_chains WHERE kind < 2""",
        """CREATE TABLE g_mto_line AS
        SELECT m.c, l.o, l.line_no, l.i FROM g_mto m JOIN g_lines l ON l.i = m.line_i""",
        """CREATE TABLE production_orders AS
        SELECT o.production_order_id, o.item_id, CAST(o.qty AS DOUBLE) AS qty,
               CASE WHEN t.all_done THEN 'completed' WHEN t.started THEN 'in_progress'
                    WHEN t.planned_start < TIMESTAMP '{as_of}' + INTERVAL 2 DAY THEN 'released'
                    ELSE 'planned' END AS status,
               t.planned_start, t.planned_end,
               CASE WHEN ml.c IS NOT NULL THEN 'SO-' || lpad(CAST(ml.o AS VARCHAR), 7, '0') END AS sales_order_id,
               CASE WHEN ml.c IS NOT NULL THEN ml.line_no END AS line_no,
               CASE WHEN o.parent_pos IS NOT NULL
                    THEN 'PRO-' || lpad(CAST(o.c * 4 + o.parent_pos AS VARCHAR), 8, '0') END
                 AS parent_production_order_id,
               o.c, o.pos, o.parent_pos, o.kind
        FROM g_orders o JOIN g_order_times t USING (production_order_id)
        LEFT JOIN g_mto_line ml ON ml.c = o.c AND o.kind < 2""".replace("{as_of}", AS_OF.isoformat(sep=" ")),
        # make-to-order lines take their finished order's item, quantity and end; others come from stock
        f"""CREATE TABLE sales_orders AS
        WITH fg AS (
            SELECT sales_order_id, line_no, item_id, qty, planned_end, status AS po_status, c
            FROM production_orders WHERE sales_order_id IS NOT NULL AND parent_production_order_id IS NULL)
        SELECT 'SO-' || lpad(CAST(l.o AS VARCHAR), 7, '0') AS sales_order_id, l.line_no,
               'C-' || lpad(CAST(ri('socust', l.o, {n_cust}) AS VARCHAR), 6, '0') AS customer_id,
               coalesce(fg.item_id, iid('FG', ri('soitem', l.i, {n_fg}))) AS item_id,
               CAST(coalesce(fg.qty, 1 + ri('soqty', l.i, 20)) AS DOUBLE) AS qty,
               CAST(CASE WHEN fg.c IS NOT NULL
                         THEN CAST(fg.planned_end AS DATE) + CAST(ri('slack', l.i, 5) AS INTEGER)
                         ELSE CAST({as_of} AS DATE) + CAST(ri('prom', l.i, 45) AS INTEGER) - 10 END AS DATE)
                 AS promised_date,
               -- confirmed some days before the promise, and never after as_of
               CAST(least({as_of} - to_minutes(CAST(60 + ri('conf', l.o, 600) AS BIGINT)),
                          CAST(CASE WHEN fg.c IS NOT NULL THEN CAST(fg.planned_end AS DATE)
                                    ELSE CAST({as_of} AS DATE) + CAST(ri('prom', l.i, 45) AS INTEGER) - 10 END
                               AS TIMESTAMP) - to_minutes(CAST(4320 + ri('lead', l.o, 20160) AS BIGINT)))
                    AS TIMESTAMP) AS confirmed_at,
               CASE WHEN fg.c IS NOT NULL THEN CASE WHEN fg.po_status = 'completed' THEN 'shipped' ELSE 'open' END
                    WHEN ri('cancel', l.i, 100) = 0 THEN 'cancelled'
                    WHEN CAST({as_of} AS DATE) + CAST(ri('prom', l.i, 45) AS INTEGER) - 10 < CAST({as_of} AS DATE)
                         AND ri('overdue', l.i, 20) > 0 THEN 'shipped'
                    ELSE 'open' END AS status,
               l.i
        FROM g_lines l LEFT JOIN fg ON fg.sales_order_id = 'SO-' || lpad(CAST(l.o AS VARCHAR), 7, '0')
                                   AND fg.line_no = l.line_no""",
        # ---------------------------------------------------------------- lots and genealogy (follow the BOM)
        f"""CREATE TABLE g_lots AS
        SELECT kind, i, k, lot_of(kind, i, k) AS lot_id, iid(kind, i) AS item_id
        FROM (SELECT 'FG' AS kind, i, {lpi["finished"]} AS n FROM range({n_fg}) r(i)
              UNION ALL SELECT 'SA', i, {lpi["subassembly"]} FROM range({n_sa}) r(i)
              UNION ALL SELECT 'CP', i, {lpi["component"]} FROM range({n_cp}) r(i)
              UNION ALL SELECT 'RM', i, {lpi["raw"]} FROM range({n_rm}) r(i)) t, range(n) r(k)""",
        f"""CREATE TABLE lot_genealogy AS
        SELECT lot_of('SA', fg_sa(i, b), ri('gsa', (i * 64 + k) * 2 + b, {lpi["subassembly"]})) AS input_lot_id,
               lot_id AS output_lot_id, 1.0 AS qty
        FROM g_lots, range(2) r(b) WHERE kind = 'FG'
        UNION ALL
        SELECT lot_of('RM', fg_rm(i, 0), ri('gfr', i * 64 + k, {lpi["raw"]})), lot_id, 5.0 FROM g_lots WHERE kind = 'FG'
        UNION ALL
        SELECT lot_of('CP', sa_cp(i, b), ri('gcp', (i * 64 + k) * 2 + b, {lpi["component"]})), lot_id, 2.0
        FROM g_lots, range(2) r(b) WHERE kind = 'SA'
        UNION ALL
        SELECT lot_of('RM', sa_rm(i), ri('gsr', i * 64 + k, {lpi["raw"]})), lot_id, 1.5 FROM g_lots WHERE kind = 'SA'
        UNION ALL
        SELECT lot_of('RM', cp_rm(i), ri('gcr', i * 64 + k, {lpi["raw"]})), lot_id, 12.0 FROM g_lots WHERE kind = 'CP'""",
        # ---------------------------------------------------------------- shipments
        f"""CREATE TABLE shipments AS
        SELECT 'SH-' || lpad(CAST(i AS VARCHAR), 8, '0') AS shipment_id, sales_order_id, line_no, qty,
               promised_date AS planned_ship_date,
               CASE WHEN status = 'shipped' THEN CASE WHEN promised_date < CAST({as_of} AS DATE) - 2
                                                      THEN 'delivered' ELSE 'shipped' END
                    WHEN promised_date <= CAST({as_of} AS DATE) + 1 THEN 'picked' ELSE 'planned' END AS status,
               {_strings(["DSV Road", "DB Schenker", "Kuehne+Nagel", "Own truck", "DHL Freight"])}[1 + ri('carrier', i, 5)]
                 AS carrier,
               item_id, i
        FROM sales_orders WHERE status = 'shipped' OR (status = 'open' AND ri('ship', i, 5) > 0)""",
        f"""CREATE TABLE shipment_lots AS
        SELECT shipment_id,
               lot_of('FG', CAST(substr(item_id, 4) AS BIGINT), ri('shlot', i, {lpi["finished"]})) AS lot_id, qty
        FROM shipments WHERE status IN ('shipped', 'delivered', 'picked')""",
        # ---------------------------------------------------------------- quality holds
        f"""CREATE TABLE quality_holds AS
        WITH h AS (SELECT h, ri('hkind', h, 2) AS raw_lot FROM range({n_holds}) r(h))
        SELECT 'QH-' || lpad(CAST(h AS VARCHAR), 6, '0') AS hold_id,
               CASE WHEN raw_lot = 1 THEN lot_of('RM', ri('hitem', h, {n_rm}), ri('hk', h, {lpi["raw"]}))
                    ELSE lot_of('CP', ri('hitem', h, {n_cp}), ri('hk', h, {lpi["component"]})) END AS lot_id,
               {
            _strings(
                [
                    "Mill certificate mismatch",
                    "Weld porosity in retained sample",
                    "Coating thickness below spec",
                    "Dimensional deviation on flange",
                    "Supplier 8D pending",
                    "Hardness out of tolerance",
                ]
            )
        }[1 + ri('hwhy', h, 6)]
                 AS reason,
               CAST({as_of} - to_minutes(CAST(CASE WHEN h % 10 = 0 THEN 10 + ri('hat', h, 4000)
                                                ELSE 5000 + ri('hat', h, 20000) END AS BIGINT)) AS TIMESTAMP) AS placed_at,
               person(300 + ri('qa', h, 6)) || ' (QA)' AS placed_by,
               CASE WHEN h % 10 = 0 THEN 'active' ELSE 'released' END AS status
        FROM h""",
        # produced_by: lot k of an item is the output of that item's k-th completed order, when there is one
        """CREATE TABLE g_made AS
        SELECT item_id, production_order_id,
               row_number() OVER (PARTITION BY item_id ORDER BY production_order_id) - 1 AS k
        FROM production_orders WHERE status = 'completed'""",
        """CREATE TABLE lots AS
        WITH used AS (SELECT DISTINCT input_lot_id AS lot_id FROM lot_genealogy),
             shipped AS (SELECT DISTINCT sl.lot_id FROM shipment_lots sl JOIN shipments s USING (shipment_id)
                         WHERE s.status IN ('shipped', 'delivered')),
             held AS (SELECT DISTINCT lot_id FROM quality_holds WHERE status = 'active')
        SELECT l.lot_id, l.item_id,
               CAST(CASE l.kind WHEN 'FG' THEN 4 + l.k % 20 WHEN 'SA' THEN 10 + l.k % 30
                                WHEN 'CP' THEN 40 + l.k % 60 ELSE 500 + 10 * (l.k % 100) END AS DOUBLE) AS qty,
               CASE WHEN l.kind <> 'RM' THEN mk.production_order_id END AS produced_by,
               -- a held lot that already left (shipped) or was used up (consumed) keeps that status
               CASE WHEN sh.lot_id IS NOT NULL THEN 'shipped'
                    WHEN us.lot_id IS NOT NULL AND (l.kind <> 'RM' OR l.k % 3 <> 0) THEN 'consumed'
                    WHEN hd.lot_id IS NOT NULL THEN 'hold'
                    ELSE 'released' END AS status,
               l.kind, l.k
        FROM g_lots l
        LEFT JOIN g_made mk ON mk.item_id = l.item_id AND mk.k = l.k
        LEFT JOIN used us ON us.lot_id = l.lot_id
        LEFT JOIN shipped sh ON sh.lot_id = l.lot_id
        LEFT JOIN held hd ON hd.lot_id = l.lot_id""",
        # ---------------------------------------------------------------- stock and purchasing
        f"""CREATE TABLE purchase_orders AS
        WITH p AS (SELECT p, CAST({as_of} AS DATE) + CAST(ri('due', p, 40) AS INTEGER) - 15 AS due
                   FROM range({n_po}) r(p))
        SELECT 'PO-' || lpad(CAST(p AS VARCHAR), 7, '0') AS purchase_order_id,
               CASE WHEN ri('pok', p, 3) = 0 THEN iid('CP', ri('poi', p, {n_cp})) ELSE iid('RM', ri('poi', p, {
            n_rm
        })) END
                 AS item_id,
               CAST(10 * (1 + ri('poq', p, 50)) AS DOUBLE) AS qty, CAST(due AS DATE) AS due_date,
               {
            _strings(
                [
                    "Ruukki Steel Service",
                    "Odense Gjuteri",
                    "Nord Drivesystems",
                    "Tiger Coatings",
                    "EagleBurgmann Nordic",
                    "Bronze Cast Vejle",
                    "Würth Industri",
                    "Stena Stål",
                    "SEW-Eurodrive",
                    "Parker Hannifin",
                ]
            )
        }[1 + ri('sup', p, 10)] AS supplier,
               CASE WHEN ri('pocancel', p, 50) = 0 THEN 'cancelled'
                    WHEN due < CAST({as_of} AS DATE) AND ri('polate', p, 10) > 0 THEN 'received'
                    ELSE 'open' END AS status
        FROM p""",
        # Lot stock first; then unlotted stock sized from a time-phased projection (the shortage
        # engine's rules) so that most items never run short and about one in fifty does.
        """CREATE TABLE g_lot_stock AS
        SELECT item_id,
               CASE kind WHEN 'FG' THEN 'WH-FG' WHEN 'RM' THEN 'WH-RAW' ELSE 'WIP' END
                 || CASE WHEN status = 'hold' THEN '-QUAR' ELSE '' END AS location,
               lot_id, CAST(CASE WHEN kind = 'RM' THEN qty / 2 ELSE qty END AS DOUBLE) AS qty, status
        FROM lots WHERE status IN ('released', 'hold')""",
        f"""CREATE TABLE g_need AS
        WITH moves AS (
            SELECT item_id, CAST(due_date AS TIMESTAMP) AS t, 0 AS rank, purchase_order_id AS k, qty
            FROM purchase_orders WHERE status = 'open'
            UNION ALL
            SELECT item_id, planned_end, 0, production_order_id, qty
            FROM production_orders WHERE status IN ('planned', 'released', 'in_progress')
            UNION ALL
            SELECT b.component_item_id, p.planned_start, 1, p.production_order_id, -p.qty * b.qty_per
            FROM production_orders p JOIN bom b ON b.parent_item_id = p.item_id
            WHERE p.status IN ('planned', 'released')
            UNION ALL
            SELECT item_id, CAST(promised_date AS TIMESTAMP), 1, sales_order_id || '/' || line_no, -qty
            FROM sales_orders WHERE status = 'open'),
        running AS (
            -- a total order (k breaks ties) and rounded sums: the same bytes on every run
            SELECT item_id, round(sum(qty) OVER (PARTITION BY item_id ORDER BY greatest(t, {as_of}), rank, k
                                                 ROWS UNBOUNDED PRECEDING), 6) AS balance
            FROM moves),
        lowest AS (SELECT item_id, least(0, min(balance)) AS low FROM running GROUP BY item_id),
        stock AS (SELECT item_id, round(sum(qty), 6) AS qty FROM g_lot_stock WHERE status = 'released' GROUP BY item_id)
        SELECT i.item_id, i.kind, i.i, i.safety_stock,
               greatest(0, -(coalesce(l.low, 0) + coalesce(s.qty, 0))) AS deficit
        FROM items i LEFT JOIN lowest l USING (item_id) LEFT JOIN stock s USING (item_id)""",
        """CREATE TABLE inventory AS
        SELECT item_id, location, lot_id, qty FROM g_lot_stock
        UNION ALL
        SELECT item_id, CASE kind WHEN 'FG' THEN 'WH-FG' WHEN 'SA' THEN 'WIP' ELSE 'WH-RAW' END, NULL,
               CAST(CASE WHEN ri('short' || kind, i, 50) = 0 THEN floor(deficit / 2)
                         ELSE ceil(deficit) + safety_stock + 5 * ri('margin' || kind, i, 10) END AS DOUBLE)
        FROM g_need WHERE deficit > 0 OR kind IN ('RM', 'CP')""",
        *calendar_tables,
    ]
    return statements


def _is_working_day(day: date) -> bool:
    return day.isoweekday() <= 5 and all(day != h for h, _ in HOLIDAYS)


def _utc(day: date, clock: time = time(0)) -> datetime:
    """The plant's local wall-clock time `clock` on `day`, as naive UTC."""
    local = datetime.combine(day, clock).replace(tzinfo=ZoneInfo(TIMEZONE))
    return local.astimezone(UTC).replace(tzinfo=None)


def _working_days() -> list[datetime]:
    """The start of the first shift (naive UTC) of each working day the plan may use, in order: from
    HISTORY_WORKING_DAYS working days before as_of's day. Each day's own UTC offset is used, so a plan
    running past a change of the clocks stays in working time (the clocks change at night, outside the
    shifts, so one offset holds for a whole working day)."""
    first_shift = time.fromisoformat(SHIFTS[0][1])
    day, back = AS_OF.date(), 0
    while back < HISTORY_WORKING_DAYS:
        day -= timedelta(days=1)
        back += _is_working_day(day)
    starts: list[datetime] = []
    while len(starts) < WORKING_DAYS:
        if _is_working_day(day):
            starts.append(_utc(day, first_shift))
        day += timedelta(days=1)
    return starts


def _holidays() -> list[tuple[str, str, str]]:
    """The public holidays as closures of whole local days: (start, end) in naive UTC, and the reason."""
    return [
        (_utc(day).isoformat(sep=" "), _utc(day + timedelta(days=1)).isoformat(sep=" "), why.replace("'", "''"))
        for day, why in HOLIDAYS
    ]


def _validate_args(scale: float, seed: int) -> None:
    if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0 or scale > 20:
        raise BadRequest(f"scale must be a number above 0 and at most 20 (1 is the large plant), not {scale!r}")
    if not isinstance(seed, int) or seed < 0 or seed >= 2**31:
        raise BadRequest(f"seed must be a whole number from 0 to 2147483647, not {seed!r}")


def generate_plant(
    out_dir: str | Path,
    *,
    scale: float = 1.0,
    seed: int = 1,
    threads: int | None = None,
    calendars: bool = False,
    shift_operators: bool = False,
) -> dict[str, int]:
    """Write a synthetic plant as Parquet (one file per contract table) plus snapshot.json.

    `calendars`: the plant works two shifts Monday to Friday (Europe/Berlin) with public holidays, its
    plan is made in that working time, and operators (person resources on their shift's calendar) run a
    third of the operations (the module's docstring says how). Without it the plant and its plan run
    round the clock, as always. `shift_operators` (with `calendars`): two operators per lane, one per
    shift, each on their shift's calendar, instead of one on the machines' two shifts.

    Returns the rows written per table. Same scale, seed and `calendars`, same bytes.
    """
    _validate_args(scale, seed)
    if shift_operators and not calendars:
        raise BadRequest("shift operators need the plant in working time (calendars)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})
    try:
        con.execute("SET preserve_insertion_order = true")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        for statement in _sql(scale, seed, calendars, shift_operators):
            con.execute(statement)
        counts: dict[str, int] = {}
        built = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        for t in TABLES:
            if t.name not in built and not t.required:
                # An optional table the generator does not build (one the contract gained since): no file,
                # so the loader makes it empty.
                (out / f"{t.name}.parquet").unlink(missing_ok=True)
                continue
            cols = ", ".join(f'CAST("{c.name}" AS {c.type}) AS "{c.name}"' for c in t.columns)
            keys = ", ".join(f'"{k}"' for k in t.key)
            target = out / f"{t.name}.parquet"
            # ORDER BY the key: the row order, and so the file, is the same on every run
            con.execute(
                f"COPY (SELECT {cols} FROM \"{t.name}\" ORDER BY {keys}) TO '{_sql_path(target)}' "
                "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
            )
            row = con.execute(f'SELECT count(*) FROM "{t.name}"').fetchone()
            assert row is not None  # an aggregate without GROUP BY returns exactly one row
            counts[t.name] = row[0]
    finally:
        con.close()
    # Stale files of other formats would shadow or confuse the loader's lookup.
    for t in TABLES:
        for ext in (".csv", ".json", ".jsonl"):
            stale = out / f"{t.name}{ext}"
            if stale.exists():
                stale.unlink()
    snapshot = {
        "as_of": AS_OF.isoformat(timespec="seconds"),
        "plant": f"Synthetic plant (scale {scale:g}, seed {seed})",
    }
    if calendars:
        snapshot["plant"] = f"Synthetic plant (scale {scale:g}, seed {seed}, two shifts)"
        snapshot |= {"timezone": TIMEZONE, "calendar": TWO_SHIFT}
    (out / "snapshot.json").write_text(json.dumps(snapshot, indent=2) + "\n", encoding="utf-8")
    return counts


def _sql_path(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")
