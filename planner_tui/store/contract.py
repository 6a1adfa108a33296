"""The snapshot contract: every table, its columns, types, keys, allowed values and references.

This is the single description the loader validates against, the schema creates, and
`docs/snapshot-format.md` documents. Table and column names are the contract's, so any DuckDB client
can query a planner_tui database directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# DuckDB types used by the contract.
ID = "VARCHAR"
TEXT = "VARCHAR"
INT = "INTEGER"
QTY = "DOUBLE"
TS = "TIMESTAMP"  # naive, UTC
DATE = "DATE"

# The years a date or timestamp may fall in: a plant's plan, history and promises, with room to spare.
# Year 0 or 10000 is an extract's bug, and Python (the engine) cannot even hold it.
MIN_YEAR = 1900
MAX_YEAR = 2999


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = False  # may the value be empty?
    enum: tuple[str, ...] | None = None  # the only values allowed
    default: object | None = None  # an empty value becomes this
    positive: bool = False  # must be > 0
    optional: bool = False  # may be absent from the file (planner_tui's own, or added to the contract later)
    differs_from: str | None = None  # a column of the same row this one must not equal (no self-loop)
    between: tuple[int, int] | None = None  # a whole number from ... to ... (both included)
    clock: bool = False  # a wall-clock time of day, text HH:MM from 00:00 to 24:00
    after: str | None = None  # a column of the same row this one must be later than (end after start)
    not_before: str | None = None  # a column of the same row this one must not be earlier than
    doc: str = ""


@dataclass(frozen=True)
class Reference:
    """`columns` of this table name a row of `table` by its `target` columns (skipped when empty)."""

    columns: tuple[str, ...]
    table: str
    target: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    name: str
    required: bool
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    references: tuple[Reference, ...] = field(default_factory=tuple)
    doc: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


MACHINE_STATES = ("running", "idle", "down", "maintenance")
ITEM_TYPES = ("finished", "subassembly", "component", "raw")
SALES_ORDER_STATUSES = ("open", "shipped", "cancelled")
PRODUCTION_ORDER_STATUSES = ("planned", "released", "in_progress", "completed", "cancelled")
OPERATION_STATUSES = ("waiting", "running", "done")
PURCHASE_ORDER_STATUSES = ("open", "received", "cancelled")
LOT_STATUSES = ("released", "hold", "consumed", "shipped")
SHIPMENT_STATUSES = ("planned", "picked", "shipped", "delivered")
HOLD_STATUSES = ("active", "released")
RESOURCE_KINDS = ("person", "tool", "crew")
RESOURCE_STATES = ("available", "unavailable")
WORKING_VALUES = ("true", "false")  # calendar_exceptions.working: an extra shift, or a closure

# Machine states that mean the machine is stopped.
STOPPED_STATES = ("down", "maintenance")
OPEN_PRODUCTION_STATUSES = ("planned", "released", "in_progress")


def _ref(cols, table, target=None) -> Reference:
    cols = (cols,) if isinstance(cols, str) else tuple(cols)
    target = cols if target is None else ((target,) if isinstance(target, str) else tuple(target))
    return Reference(cols, table, target)


TABLES: tuple[Table, ...] = (
    Table(
        "machines",
        True,
        (
            Column("machine_id", ID),
            Column("name", TEXT, nullable=True),
            Column("work_center", TEXT, nullable=True),
            Column("line", TEXT, nullable=True),
            Column("plant", TEXT, nullable=True),
            Column("supervisor", TEXT, nullable=True, doc="who to tell when it stops"),
            Column(
                "calendar_id",
                ID,
                nullable=True,
                optional=True,
                doc="when it works; empty: the plant's calendar (snapshot.json `calendar`)",
            ),
        ),
        key=("machine_id",),
        references=(_ref("calendar_id", "calendars"),),
        doc="Every machine (resource) that operations run on.",
    ),
    Table(
        "machine_states",
        False,
        (
            Column("machine_id", ID),
            Column("state", TEXT, enum=MACHINE_STATES),
            Column("since", TS),
            Column("reason", TEXT, nullable=True),
            Column(
                "expected_minutes",
                INT,
                nullable=True,
                optional=True,
                doc="expected length of a stop, when known (set by machine.down events)",
            ),
        ),
        key=("machine_id",),
        references=(_ref("machine_id", "machines"),),
        doc="The current state of machines; a machine not listed is running.",
    ),
    Table(
        "calendars",
        False,
        (
            Column("calendar_id", ID),
            Column("weekday", INT, between=(1, 7), doc="1 = Monday ... 7 = Sunday"),
            Column("start_time", TEXT, clock=True, doc="when work starts, the plant's local time"),
            Column(
                "end_time",
                TEXT,
                clock=True,
                after="start_time",
                doc="when it ends that day; `24:00` is midnight at the day's end",
            ),
        ),
        key=("calendar_id", "weekday", "start_time"),
        doc="Working calendars: the weekly pattern of working hours (shifts), in the plant's local time "
        "(snapshot.json `timezone`). Several rows per day for several shifts; a day with no rows is closed.",
    ),
    Table(
        "calendar_exceptions",
        False,
        (
            Column("calendar_id", ID),
            Column("start", TS),
            Column("end", TS, after="start"),
            Column(
                "working",
                TEXT,
                enum=WORKING_VALUES,
                doc="`true`: an extra shift; `false`: a closure (holiday, planned maintenance)",
            ),
            Column("reason", TEXT, nullable=True),
        ),
        key=("calendar_id", "start"),
        references=(_ref("calendar_id", "calendars"),),
        doc="Days or hours that differ from a calendar's weekly pattern: inside its span an exception "
        "replaces the pattern.",
    ),
    Table(
        "items",
        True,
        (
            Column("item_id", ID),
            Column("description", TEXT, nullable=True),
            Column("item_type", TEXT, enum=ITEM_TYPES),
            Column("uom", TEXT, nullable=True),
            Column("safety_stock", QTY, nullable=True, default=0),
            Column("buyer", TEXT, nullable=True, doc="who to tell when it runs short"),
        ),
        key=("item_id",),
        doc="Every item: finished goods, subassemblies, components and raw materials.",
    ),
    Table(
        "bom",
        False,
        (
            Column("parent_item_id", ID),
            Column("component_item_id", ID, differs_from="parent_item_id"),
            Column("qty_per", QTY, positive=True),
        ),
        key=("parent_item_id", "component_item_id"),
        references=(
            _ref("parent_item_id", "items", "item_id"),
            _ref("component_item_id", "items", "item_id"),
        ),
        doc="Single-level bills of material; multi-level structures are chains of rows.",
    ),
    Table(
        "customers",
        True,
        (
            Column("customer_id", ID),
            Column("name", TEXT, nullable=True),
            Column("tier", TEXT, nullable=True),
            Column("account_manager", TEXT, nullable=True, doc="who to tell when an order slips"),
        ),
        key=("customer_id",),
    ),
    Table(
        "sales_orders",
        True,
        (
            Column("sales_order_id", ID),
            Column("line_no", INT),
            Column("customer_id", ID),
            Column("item_id", ID),
            Column("qty", QTY),
            Column("promised_date", DATE),
            Column("confirmed_at", TS),
            Column("status", TEXT, enum=SALES_ORDER_STATUSES),
        ),
        key=("sales_order_id", "line_no"),
        references=(_ref("customer_id", "customers"), _ref("item_id", "items")),
        doc="Customer order lines.",
    ),
    Table(
        "production_orders",
        True,
        (
            Column("production_order_id", ID),
            Column("item_id", ID),
            Column("qty", QTY),
            Column("status", TEXT, enum=PRODUCTION_ORDER_STATUSES),
            Column("planned_start", TS),
            Column("planned_end", TS, not_before="planned_start"),
            Column("sales_order_id", ID, nullable=True, doc="set when made to order for that line"),
            Column("line_no", INT, nullable=True),
            Column(
                "parent_production_order_id",
                ID,
                nullable=True,
                differs_from="production_order_id",
                doc="set when this order's output feeds that order",
            ),
        ),
        key=("production_order_id",),
        references=(
            _ref("item_id", "items"),
            _ref(("sales_order_id", "line_no"), "sales_orders"),
            _ref("parent_production_order_id", "production_orders", "production_order_id"),
        ),
    ),
    Table(
        "operations",
        True,
        (
            Column("production_order_id", ID),
            Column("op_seq", INT),
            Column("machine_id", ID),
            Column("planned_start", TS),
            Column("planned_end", TS, not_before="planned_start"),
            Column("status", TEXT, enum=OPERATION_STATUSES),
        ),
        key=("production_order_id", "op_seq"),
        references=(_ref("production_order_id", "production_orders"), _ref("machine_id", "machines")),
        doc="The routing steps of production orders, each on one machine.",
    ),
    Table(
        "resources",
        False,
        (
            Column("resource_id", ID),
            Column("name", TEXT, nullable=True),
            Column("kind", TEXT, enum=RESOURCE_KINDS),
            Column("calendar_id", ID, nullable=True, doc="when it works; empty: the plant's calendar"),
            Column("supervisor", TEXT, nullable=True, doc="who to tell when it is unavailable"),
        ),
        key=("resource_id",),
        references=(_ref("calendar_id", "calendars"),),
        doc="Secondary resources: the people, tools and crews operations need besides their machine.",
    ),
    Table(
        "operation_resources",
        False,
        (
            Column("production_order_id", ID),
            Column("op_seq", INT),
            Column("resource_id", ID),
        ),
        key=("production_order_id", "op_seq", "resource_id"),
        references=(_ref(("production_order_id", "op_seq"), "operations"), _ref("resource_id", "resources")),
        doc="The operation needs the resource for its whole duration, besides its machine.",
    ),
    Table(
        "resource_states",
        False,
        (
            Column("resource_id", ID),
            Column("state", TEXT, enum=RESOURCE_STATES),
            Column("since", TS),
            Column("reason", TEXT, nullable=True),
            Column(
                "expected_minutes",
                INT,
                nullable=True,
                optional=True,
                doc="expected length of an absence, when known (set by resource.unavailable events)",
            ),
        ),
        key=("resource_id",),
        references=(_ref("resource_id", "resources"),),
        doc="The current state of secondary resources (a person absent, a tool away); a resource not listed "
        "is available.",
    ),
    Table(
        "purchase_orders",
        False,
        (
            Column("purchase_order_id", ID),
            Column("item_id", ID),
            Column("qty", QTY),
            Column("due_date", DATE),
            Column("supplier", TEXT, nullable=True),
            Column("status", TEXT, enum=PURCHASE_ORDER_STATUSES),
        ),
        key=("purchase_order_id",),
        references=(_ref("item_id", "items"),),
    ),
    Table(
        "inventory",
        False,
        (
            Column("item_id", ID),
            Column("location", ID),
            Column("lot_id", ID, nullable=True),
            Column("qty", QTY),
        ),
        key=("item_id", "location", "lot_id"),
        references=(_ref("item_id", "items"), _ref("lot_id", "lots")),
        doc="On-hand stock by location and lot (lot empty for unlotted stock).",
    ),
    Table(
        "lots",
        False,
        (
            Column("lot_id", ID),
            Column("item_id", ID),
            Column("qty", QTY),
            Column("produced_by", ID, nullable=True, doc="the production order that made it"),
            Column("status", TEXT, enum=LOT_STATUSES),
        ),
        key=("lot_id",),
        references=(
            _ref("item_id", "items"),
            _ref("produced_by", "production_orders", "production_order_id"),
        ),
    ),
    Table(
        "lot_genealogy",
        False,
        (
            Column("input_lot_id", ID),
            Column("output_lot_id", ID, differs_from="input_lot_id"),
            Column("qty", QTY),
        ),
        key=("input_lot_id", "output_lot_id"),
        references=(
            _ref("input_lot_id", "lots", "lot_id"),
            _ref("output_lot_id", "lots", "lot_id"),
        ),
        doc="The input lot was consumed into the output lot.",
    ),
    Table(
        "shipments",
        True,
        (
            Column("shipment_id", ID),
            Column("sales_order_id", ID),
            Column("line_no", INT),
            Column("qty", QTY),
            Column("planned_ship_date", DATE),
            Column("status", TEXT, enum=SHIPMENT_STATUSES),
            Column("carrier", TEXT, nullable=True),
        ),
        key=("shipment_id",),
        references=(_ref(("sales_order_id", "line_no"), "sales_orders"),),
    ),
    Table(
        "shipment_lots",
        False,
        (
            Column("shipment_id", ID),
            Column("lot_id", ID),
            Column("qty", QTY),
        ),
        key=("shipment_id", "lot_id"),
        references=(_ref("shipment_id", "shipments"), _ref("lot_id", "lots")),
    ),
    Table(
        "quality_holds",
        False,
        (
            Column("hold_id", ID),
            Column("lot_id", ID),
            Column("reason", TEXT, nullable=True),
            Column("placed_at", TS),
            Column("placed_by", TEXT, nullable=True),
            Column("status", TEXT, enum=HOLD_STATUSES),
        ),
        key=("hold_id",),
        references=(_ref("lot_id", "lots"),),
    ),
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}

# snapshot.json: the plant's time zone (an IANA name; calendars are its local wall clock, timestamps stay
# UTC) and its default calendar, which names a calendar as a reference column does.
DEFAULT_TIMEZONE = "UTC"
META_REFERENCES: dict[str, Reference] = {"calendar": Reference(("calendar",), "calendars", ("calendar_id",))}

# File extensions a table may come in, in the order they are looked for.
FORMATS = (".parquet", ".csv", ".jsonl", ".json")


def table(name: str) -> Table:
    return TABLES_BY_NAME[name]


def create_table_sql(t: Table, name: str | None = None) -> str:
    """DDL for an empty contract table (used for missing optional tables and fresh databases)."""
    cols = ", ".join(f'"{c.name}" {c.type}' for c in t.columns)
    return f'CREATE TABLE "{name or t.name}" ({cols})'
