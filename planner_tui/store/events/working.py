"""The working set: the slice of the plant one batch can touch, read once, changed in memory, written back.

The rows a batch names are read once per table (set-based, by the ids the batch names: each event type's
`wants` says which), the events are played over them in Python, and only the rows that finally changed
are written back, one UPDATE and one INSERT per table. The lookup indexes that keep those reads cheap on
a large plant are made here too.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, cast

import duckdb
import pyarrow as pa

from planner_tui.store.contract import create_table_sql
from planner_tui.store.contract import table as contract_table
from planner_tui.store.db import Store
from planner_tui.store.events.fields import Reject, so_key

# Table -> its key columns (from the contract).
_KEYS = {
    name: contract_table(name).key
    for name in (
        "machine_states",
        "resource_states",
        "quality_holds",
        "lots",
        "sales_orders",
        "production_orders",
        "operations",
        "purchase_orders",
        "inventory",
        "shipments",
    )
}

# The columns events read or change, per table: only these are fetched for existing rows (fetching a
# timestamp column into Python costs more than finding the row), and only changed ones are written.
_WORKING = {
    "machine_states": ("machine_id", "state", "since", "reason", "expected_minutes"),
    "resource_states": ("resource_id", "state", "since", "reason", "expected_minutes"),
    "quality_holds": ("hold_id", "lot_id", "status"),
    "lots": ("lot_id", "item_id", "qty", "status"),
    "sales_orders": ("sales_order_id", "line_no", "qty", "promised_date", "status"),
    "production_orders": ("production_order_id", "status"),
    "operations": ("production_order_id", "op_seq", "status"),
    "purchase_orders": ("purchase_order_id", "item_id", "qty", "status"),
    "inventory": ("item_id", "location", "lot_id", "qty"),
    "shipments": ("shipment_id", "sales_order_id", "line_no", "status"),
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _key_text(key: tuple) -> str:
    return "/".join("" if k is None else str(k) for k in key)


# Composite keys are matched as one string, so a batch asks for exactly the rows it names (an item has
# many inventory rows; an order many lines) rather than everything that shares the first key column.
_UNIT, _NULL = "\x1f", "\x1e"


def key_string(key: tuple) -> str:
    return _UNIT.join(_NULL if k is None else str(k) for k in key)


def key_sql(name: str) -> str:
    parts = [f'coalesce(CAST("{k}" AS VARCHAR), chr(30))' for k in _KEYS[name]]
    return " || chr(31) || ".join(parts)


# Lookup indexes. Without them every lookup is a scan of the looked-up key column (10-15 ms for a table
# of 500,000 rows), about ten a batch: a fixed cost of ~0.1 s that a poll of a few hundred events pays
# in full. DuckDB answers `col IN (<a few hundred constants>)` from an ART index instead, so the events
# layer creates these itself, on its first apply to a large plant (snapshot loads stay as fast as they
# were; a reload drops them with the old tables and the next apply makes them again).
_LOOKUP_INDEXES = (
    ("lots", "lot_id"),
    ("operations", "production_order_id"),
    ("production_orders", "production_order_id"),
    ("sales_orders", "sales_order_id"),
    ("shipments", "shipment_id"),
    ("shipments", "sales_order_id"),
    ("shipment_lots", "shipment_id"),
    ("purchase_orders", "purchase_order_id"),
)
_INDEX_PREFIX = "planner_events_"
# Below this many rows a scan costs about what an index lookup does: no index.
INDEX_MIN_ROWS = 50_000
# An index lookup costs ~30 us a key; past a few hundred keys (a batch catching up) one scan is cheaper.
_INDEX_KEYS_MAX = 200


def index_name(table: str, column: str) -> str:
    return f"{_INDEX_PREFIX}{table}_{column}"


class Plant:
    """The slice of the plant one batch can touch: rows by key, with their rowids for writing back."""

    def __init__(self, cur: duckdb.DuckDBPyConnection):
        self.cur = cur
        self.indexed: set[tuple[str, str]] = set()  # lookup indexes present
        self.unindexed: list[tuple[str, str]] = []  # lookup indexes worth creating (large tables)
        self.columns = self._present_columns()
        self.rows: dict[str, dict[tuple, dict | None]] = {name: {} for name in _KEYS}
        self.rowids: dict[str, dict[tuple, int]] = {name: {} for name in _KEYS}
        self.original: dict[str, dict[tuple, dict | None]] = {name: {} for name in _KEYS}
        self.known: dict[str, set[str]] = {"machines": set(), "resources": set(), "customers": set(), "items": set()}
        self.item_of_lot: dict[str, str] = {}
        self.active_holds_by_lot: dict[str, set[str]] = {}
        self.ops_by_order: dict[str, list[tuple]] = {}
        self.shipments_by_line: dict[tuple, list[str]] = {}
        self.lots_by_shipment: dict[str, list[str]] = {}

    def _present_columns(self) -> dict[str, list[str]]:
        """The contract columns each table really has; also notes the lookup indexes present and the
        ones worth creating (one catalog query for all of it)."""
        tables = sorted(set(_KEYS) | {t for t, _ in _LOOKUP_INDEXES})
        rows = self.cur.execute(
            "SELECT 'column', table_name, column_name FROM duckdb_columns() "
            "WHERE schema_name = 'main' AND table_name = ANY(?) "
            "UNION ALL SELECT 'index', table_name, index_name FROM duckdb_indexes() "
            "WHERE schema_name = 'main' AND starts_with(index_name, ?) "
            "UNION ALL SELECT 'rows', table_name, CAST(estimated_size AS VARCHAR) FROM duckdb_tables() "
            "WHERE schema_name = 'main' AND table_name = ANY(?)",
            [tables, _INDEX_PREFIX, tables],
        ).fetchall()
        present: dict[str, set[str]] = {}
        index_names: set[str] = set()
        sizes: dict[str, int] = {}
        for what, table_name, value in rows:
            if what == "column":
                present.setdefault(table_name, set()).add(value)
            elif what == "index":
                index_names.add(value)
            else:
                sizes[table_name] = int(value or 0)
        if "resource_states" not in present:
            # A database made before the table was in the contract (and opened without the schema check,
            # which creates missing optional tables): resource.* events need it, empty to begin with.
            self.cur.execute(create_table_sql(contract_table("resource_states")))
            present["resource_states"] = set(contract_table("resource_states").column_names)
        for table_name, column in _LOOKUP_INDEXES:
            if column not in present.get(table_name, set()):
                continue
            if index_name(table_name, column) in index_names:
                self.indexed.add((table_name, column))
            elif sizes.get(table_name, 0) >= INDEX_MIN_ROWS:
                self.unindexed.append((table_name, column))
        if "expected_minutes" not in present.get("machine_states", set()):
            # A snapshot may lack planner_tui's own column; machine.down needs it.
            self.cur.execute("ALTER TABLE machine_states ADD COLUMN expected_minutes INTEGER")
            present.setdefault("machine_states", set()).add("expected_minutes")
        return {name: [c for c in contract_table(name).column_names if c in present.get(name, set())] for name in _KEYS}

    # reading -------------------------------------------------------------------------------------

    def load_known(self, wanted: dict[str, set]) -> None:
        """Which of the machines, resources, customers and items the batch names exist (one query for all)."""
        lookups = {"machines": "machine_id", "resources": "resource_id", "customers": "customer_id", "items": "item_id"}
        parts, params = [], []
        for name, column in lookups.items():
            ids = sorted(wanted[name] - {None})
            if ids:
                parts.append(f'SELECT \'{name}\', "{column}" FROM "{name}" WHERE "{column}" = ANY(?)')
                params.append(ids)
        if parts:
            for name, found in self.cur.execute(" UNION ALL ".join(parts), params).fetchall():
                self.known[name].add(found)

    def load(self, name: str, where: str, params: list, *, absent: Iterable[Any] = ()) -> list[dict]:
        """Read the rows of `name` matching `where` into the cache; `absent` are single-column keys
        asked for, which are then known not to exist when not found."""
        cols = [c for c in _WORKING[name] if c in self.columns[name]]
        select = ", ".join(f'"{c}"' for c in cols)
        result = self.cur.execute(f'SELECT rowid, {select} FROM "{name}" WHERE {where}', params).fetchall()
        key_cols = _KEYS[name]
        loaded = []
        cache, rowids = self.rows[name], self.rowids[name]
        for rowid, *values_row in result:
            row = dict(zip(cols, values_row))
            key = tuple(row[k] for k in key_cols)
            if key not in cache:  # never overwrite a row the batch already changed
                cache[key] = row
                rowids[key] = rowid
                self.index(name, key, row)
            loaded.append(cast(dict, cache[key]))
        for value in absent:
            cache.setdefault((value,), None)
        return loaded

    def match(self, name: str, column: str, values: list) -> tuple[str, list]:
        """A predicate `column` in `values` and its parameters: a list of constants when an index can
        answer it (DuckDB looks each up in the ART index), else one list parameter (one scan)."""
        if (name, column) in self.indexed and len(values) <= _INDEX_KEYS_MAX:
            return f'"{column}" IN ({", ".join("?" for _ in values)})', list(values)
        return f'"{column}" = ANY(?)', [values]

    def load_keys(self, name: str, keys: Iterable[tuple]) -> list[dict]:
        """Read exactly these (composite) keys; keys not found are then known not to exist."""
        keys = {k for k in keys if all(part is not None for part in k[:1])}
        if not keys:
            return []
        first, params = self.match(name, _KEYS[name][0], sorted({k[0] for k in keys}))
        wanted = sorted(key_string(k) for k in keys)
        return self.load(name, f"{first} AND {key_sql(name)} = ANY(?)", params + [wanted])

    def load_by(self, name: str, column: str, values: Iterable[Any]) -> list[dict]:
        values = sorted({v for v in values if v is not None})
        if not values:
            return []
        absent = values if _KEYS[name] == (column,) else ()
        where, params = self.match(name, column, values)
        return self.load(name, where, params, absent=absent)

    def index(self, name: str, key: tuple, row: dict) -> None:
        if name == "lots":
            self.item_of_lot[row["lot_id"]] = row["item_id"]
        elif name == "quality_holds" and row["status"] == "active":
            self.active_holds_by_lot.setdefault(row["lot_id"], set()).add(row["hold_id"])
        elif name == "operations":
            self.ops_by_order.setdefault(row["production_order_id"], []).append(key)
        elif name == "shipments":
            line = (row["sales_order_id"], row["line_no"])
            if key[0] not in self.shipments_by_line.setdefault(line, []):
                self.shipments_by_line[line].append(key[0])

    def get(self, name: str, *key: Any) -> dict | None:
        row = self.rows[name].get(tuple(key))
        return dict(row) if row is not None else None

    # changing ------------------------------------------------------------------------------------

    def put(self, name: str, row: dict, changes: list[dict]) -> None:
        """Set a row (insert or update), recording what changed for the event's `changes`."""
        key = tuple(row[k] for k in _KEYS[name])
        cache = self.rows[name]
        before = cache.get(key)
        if key not in self.original[name]:
            self.original[name][key] = dict(before) if before is not None else None
        if before is None:
            after = {c: row.get(c) for c in self.columns[name]}
            changes.append(
                {
                    "table": name,
                    "key": _key_text(key),
                    "before": None,
                    "after": {c: _jsonable(v) for c, v in after.items()},
                }
            )
            self.index(name, key, after)
        else:
            after = {c: row.get(c, before[c]) for c in before}
            diff = [c for c in before if before[c] != after[c]]
            if not diff:
                return
            changes.append(
                {
                    "table": name,
                    "key": _key_text(key),
                    "before": {c: _jsonable(before[c]) for c in diff},
                    "after": {c: _jsonable(after[c]) for c in diff},
                }
            )
        cache[key] = after

    def dirty(self, name: str) -> tuple[list[dict], list[tuple[int, dict]], list[str]]:
        """(new rows, (rowid, row) of changed existing rows, the columns that changed) for one table."""
        inserts: list[dict] = []
        updates: list[tuple[int, dict]] = []
        changed: set[str] = set()
        for key, original in self.original[name].items():
            current = self.rows[name][key]
            if current is None:
                continue
            if original is None:
                if key in self.rowids[name]:  # cannot happen: a loaded row is never "absent"
                    raise AssertionError(f"{name} {key} both loaded and new")
                inserts.append(current)
            elif current != original:
                updates.append((self.rowids[name][key], current))
                changed.update(c for c in current if current[c] != original.get(c))
        return inserts, updates, [c for c in self.columns[name] if c in changed]


# Every table a batch may change, in the order they are written back.
TABLES = tuple(_KEYS)


# ---------------------------------------------------------------------------------------------------
# Helpers several event types share
# ---------------------------------------------------------------------------------------------------


def add_stock(p: Plant, item_id: str, location: str, lot_id: str | None, delta: float, changes: list) -> float:
    row = p.get("inventory", item_id, location, lot_id)
    if row is None:
        row = {"item_id": item_id, "location": location, "lot_id": lot_id, "qty": 0.0}
    row["qty"] = (row["qty"] or 0) + delta
    p.put("inventory", row, changes)
    return row["qty"]


def open_line(p: Plant, data: dict) -> dict:
    """The sales order line `data` names (sales_order_id, line_no); Reject when the store has none."""
    so_id, line_no = so_key(data)
    line = p.get("sales_orders", so_id, line_no)
    if line is None:
        raise Reject(f"unknown sales order line {so_id}/{line_no}")
    return line


# ---------------------------------------------------------------------------------------------------
# What a batch names, and reading it
# ---------------------------------------------------------------------------------------------------

# What an event type's `wants` may ask for: ids (or composite keys) of these.
WANTED = (
    "machines",
    "resources",
    "customers",
    "items",
    "holds",
    "lots",
    "lines",
    "production_orders",
    "operations",
    "purchase_orders",
    "shipments",
    "stock",
)


class Wanted:
    """The rows a batch names. Each event type's `wants(data, wanted)` adds what its events name;
    `preload` then reads them all, a few set-based queries per table. Malformed or absent ids are added
    as None and ignored (applying reports them)."""

    def __init__(self) -> None:
        self.ids: dict[str, set] = {name: set() for name in WANTED}
        # (purchase order, location, lot): stock of the purchase order's item, known once the PO is read.
        self.po_stock: list[tuple[str | None, str, str | None]] = []

    def add(self, what: str, value: Any) -> None:
        """`value`: an id; for "lines" (sales_order_id, line_no), "operations" (production_order_id,
        op_seq) and "stock" (item_id, location, lot_id) a key tuple."""
        self.ids[what].add(value)


def preload(p: Plant, want: Wanted) -> None:
    """Read every row the batch can touch, a few set-based queries per table."""
    wanted = want.ids
    wanted["lines"].discard(None)

    p.load_known(wanted)
    p.load_by("machine_states", "machine_id", wanted["machines"])
    p.load_by("resource_states", "resource_id", wanted["resources"])
    holds = sorted(wanted["holds"] - {None})
    placed_lots = sorted(wanted["lots"] - {None})
    if holds:
        # The holds named, and every active hold on their lots (a release must know the others).
        for hold in p.load(
            "quality_holds",
            "hold_id = ANY(?) OR (status = 'active' AND (lot_id = ANY(?) OR lot_id IN "
            "(SELECT lot_id FROM quality_holds WHERE hold_id = ANY(?))))",
            [holds, placed_lots, holds],
            absent=holds,
        ):
            wanted["lots"].add(hold["lot_id"])
    shipment_ids = sorted(wanted["shipments"] - {None})
    if shipment_ids:
        # The shipments named and every other shipment of their orders: a line ships when all of its do.
        named = p.load_by("shipments", "shipment_id", shipment_ids)
        shipments = p.load_by("shipments", "sales_order_id", {s["sales_order_id"] for s in named})
        wanted["lines"] |= {(s["sales_order_id"], s["line_no"]) for s in shipments}
        where, params = p.match("shipment_lots", "shipment_id", shipment_ids)
        rows = p.cur.execute(f"SELECT shipment_id, lot_id FROM shipment_lots WHERE {where}", params).fetchall()
        for shipment_id, lot_id in rows:
            p.lots_by_shipment.setdefault(shipment_id, []).append(lot_id)
            wanted["lots"].add(lot_id)
    p.load_by("purchase_orders", "purchase_order_id", wanted["purchase_orders"])
    for po_id, location, lot_id in want.po_stock:
        po = p.get("purchase_orders", po_id)
        if po is not None:
            wanted["stock"].add((po["item_id"], location, lot_id))
    p.load_by("lots", "lot_id", wanted["lots"])
    p.load_keys("sales_orders", wanted["lines"])
    p.load_by("production_orders", "production_order_id", wanted["production_orders"])
    orders = sorted(wanted["production_orders"] - {None})
    if orders:
        # Operations already done need not be read to know whether an order is complete; the ones
        # named are read whatever their status.
        named_ops = sorted(key_string(k) for k in wanted["operations"] if None not in k)
        where, params = p.match("operations", "production_order_id", orders)
        p.load(
            "operations", f"{where} AND (status <> 'done' OR {key_sql('operations')} = ANY(?))", params + [named_ops]
        )
    p.load_keys("inventory", wanted["stock"])


# ---------------------------------------------------------------------------------------------------
# Writing back
# ---------------------------------------------------------------------------------------------------

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "TIMESTAMP": pa.timestamp("us"),
    "DATE": pa.date32(),
}


def arrow_table(columns: list[str], types: list[str], rows: list[dict]) -> pa.Table:
    return pa.table({c: pa.array([r.get(c) for r in rows], type=_ARROW_TYPES[t]) for c, t in zip(columns, types)})


def write_table(p: Plant, name: str) -> None:
    inserts, updates, changed = p.dirty(name)
    if not inserts and not updates:
        return
    spec = contract_table(name)
    view = f"_changed_{name}"
    if updates:
        # By rowid, read in this same transaction: no join on the key over the whole table.
        data = {"_rowid": pa.array([rowid for rowid, _ in updates], pa.int64())}
        for c in changed:
            data[c] = pa.array([row[c] for _, row in updates], _ARROW_TYPES[spec.column(c).type])
        p.cur.register(view, pa.table(data))
        try:
            assignments = ", ".join(f'"{c}" = v."{c}"' for c in changed)
            p.cur.execute(f'UPDATE "{name}" AS t SET {assignments} FROM {view} AS v WHERE t.rowid = v._rowid')
        finally:
            p.cur.unregister(view)
    if inserts:
        cols = p.columns[name]
        quoted = ", ".join(f'"{c}"' for c in cols)
        p.cur.register(view, arrow_table(cols, [spec.column(c).type for c in cols], inserts))
        try:
            p.cur.execute(f'INSERT INTO "{name}" ({quoted}) SELECT {quoted} FROM {view}')
        finally:
            p.cur.unregister(view)


# Lookup indexes that could not be created, per store: not tried again on every batch (a failed build
# can cost as long as a good one).
_FAILED_INDEXES: weakref.WeakKeyDictionary[Store, set[tuple[str, str]]] = weakref.WeakKeyDictionary()


def create_lookup_indexes(store: Store, cur: duckdb.DuckDBPyConnection, wanted: list[tuple[str, str]]) -> None:
    """Create the lookup indexes, each in its own short transaction (the batch is already visible).
    They only make lookups faster, so a failure leaves that lookup a scan."""
    failed = _FAILED_INDEXES.setdefault(store, set())
    for table_name, column in wanted:
        if (table_name, column) in failed:
            continue
        try:
            cur.execute(f'CREATE INDEX IF NOT EXISTS "{index_name(table_name, column)}" ON "{table_name}" ("{column}")')
        except duckdb.Error:
            failed.add((table_name, column))
