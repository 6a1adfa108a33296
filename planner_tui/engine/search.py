"""Finding things by id or name: everything a planner can go to (the console's ctrl+p, `planner-tui find`).

Each kind is one SELECT; `find` runs them as one DuckDB query, so a plant with millions of ids is
searched where it lives, and only the best `limit` rows come back to Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from planner_tui.engine.orders import list_machines
from planner_tui.engine.resources import has_resource_states, unavailable_resources
from planner_tui.errors import BadRequest
from planner_tui.store.contract import (
    HOLD_STATUSES,
    ITEM_TYPES,
    LOT_STATUSES,
    MACHINE_STATES,
    PRODUCTION_ORDER_STATUSES,
    RESOURCE_KINDS,
    RESOURCE_STATES,
    SALES_ORDER_STATUSES,
    SHIPMENT_STATUSES,
)

_ILIKE = "ILIKE ? ESCAPE '\\'"


@dataclass(frozen=True)
class _Kind:
    source: str  # SELECT of plain columns, `id_key` among them (scanned for every word: no expressions)
    id: str  # the id shown, over the source's columns
    fields: tuple[str, ...]  # conditions, one `?` each (a LIKE pattern): what else a word may match
    label: str  # over the source's columns (and `label_join`'s): built only for the rows returned
    label_join: str = ""
    enums: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (column, its values): matched in Python, not per row
    order: str = "id_key"  # the kind's own order (a sales order's lines by number, not as text)


def _on(*columns: str) -> tuple[str, ...]:
    return tuple(f"{column} {_ILIKE}" for column in columns)


# Labels hold what a planner types besides the id (a machine's name, an order's item or customer) and
# end with the status, as in the panels. Words are matched on `id_key`, the id as stored; a sales order
# line's id ("SO/line") is built from two columns, so it is matched only by a word holding a slash.
# Small master data first: among equally good matches, a machine or a customer is more likely what
# was meant than one of 500,000 lots.
_KINDS: dict[str, _Kind] = {
    "machine": _Kind(
        """SELECT m.machine_id AS id_key, m.name, coalesce(s.state, 'running') AS state
           FROM machines m LEFT JOIN machine_states s USING (machine_id)""",
        "id_key",
        _on("name"),
        "concat_ws(' ', nullif(name, ''), '(' || state || ')')",
        enums=(("state", MACHINE_STATES),),
    ),
    "resource": _Kind(
        # {resource_states}: the table, or an empty stand-in in an older store without it (`_source`).
        """SELECT r.resource_id AS id_key, r.name, r.kind, coalesce(s.state, 'available') AS state
           FROM resources r LEFT JOIN {resource_states} s USING (resource_id)""",
        "id_key",
        _on("name"),
        "concat_ws(' ', nullif(name, ''), '(' || kind || ', ' || state || ')')",
        enums=(("kind", RESOURCE_KINDS), ("state", RESOURCE_STATES)),
    ),
    "hold": _Kind(
        "SELECT hold_id AS id_key, lot_id, reason, status, placed_at FROM quality_holds",
        "id_key",
        _on("lot_id", "reason"),
        "concat_ws(' ', 'lot ' || lot_id || ':', reason, '(' || status || ')')",
        enums=(("status", HOLD_STATUSES),),
    ),
    "item": _Kind(
        "SELECT item_id AS id_key, description, item_type FROM items",
        "id_key",
        _on("description"),
        "concat_ws(' ', nullif(description, ''), '(' || item_type || ')')",
        enums=(("item_type", ITEM_TYPES),),
    ),
    "customer": _Kind("SELECT customer_id AS id_key, name FROM customers", "id_key", _on("name"), "coalesce(name, '')"),
    "production_order": _Kind(
        "SELECT production_order_id AS id_key, item_id, status FROM production_orders",
        "id_key",
        _on("item_id"),
        "'makes ' || item_id || ' (' || status || ')'",
        enums=(("status", PRODUCTION_ORDER_STATUSES),),
    ),
    "sales_order": _Kind(
        "SELECT sales_order_id AS id_key, line_no, customer_id, item_id, status FROM sales_orders",
        "id_key || '/' || line_no",
        # The customer's name through its id: a join here would be paid on every row, not only on matches.
        _on("customer_id", "item_id") + (f"customer_id IN (SELECT customer_id FROM customers WHERE name {_ILIKE})",),
        "concat_ws(' ', 'for ' || customer_id, nullif(c.name, ''), '- ' || item_id, '(' || status || ')')",
        label_join="LEFT JOIN customers c USING (customer_id)",
        order="id_key, line_no",
        enums=(("status", SALES_ORDER_STATUSES),),
    ),
    "shipment": _Kind(
        "SELECT shipment_id AS id_key, sales_order_id, line_no, status FROM shipments",
        "id_key",
        _on("sales_order_id"),
        "'for ' || sales_order_id || '/' || line_no || ' (' || status || ')'",
        enums=(("status", SHIPMENT_STATUSES),),
    ),
    "lot": _Kind(
        "SELECT lot_id AS id_key, item_id, status FROM lots",
        "id_key",
        _on("item_id"),
        "item_id || ' (' || status || ')'",
        enums=(("status", LOT_STATUSES),),
    ),
}
KINDS: tuple[str, ...] = tuple(_KINDS)

# How good a match is: the typed id itself, an id starting with a word, an id containing one, the label.
EXACT, PREFIX, ID_CONTAINS, LABEL = 1.0, 0.8, 0.6, 0.4


_NO_RESOURCE_STATES = "(SELECT CAST(NULL AS VARCHAR) AS resource_id, CAST(NULL AS VARCHAR) AS state WHERE false)"


def _source(cur: duckdb.DuckDBPyConnection, spec: _Kind) -> str:
    """The kind's SELECT, with the tables an older store may lack filled in."""
    if "{resource_states}" not in spec.source:
        return spec.source
    return spec.source.replace(
        "{resource_states}", "resource_states" if has_resource_states(cur) else _NO_RESOURCE_STATES
    )


def _kinds(kind: str | Iterable[str] | None) -> tuple[str, ...]:
    if kind is None:
        return KINDS
    wanted = (kind,) if isinstance(kind, str) else tuple(kind)
    unknown = [k for k in wanted if k not in _KINDS]
    if unknown:
        raise BadRequest(f"unknown kind {unknown[0]!r}: expected one of {', '.join(KINDS)}")
    return tuple(k for k in KINDS if k in wanted)


def _like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def plant_index(cur: duckdb.DuckDBPyConnection, *, kind: str | Iterable[str] | None = None) -> list[dict]:
    """Everything a planner can go to, as {kind, id, label}: machines, resources (people, tools, crews),
    quality holds, items, customers, production orders, sales order lines ("SO/line"), shipments and lots,
    each kind ordered by id.
    A large plant has millions of them: to search, use `find`."""
    index: list[dict] = []
    for name in _kinds(kind):
        spec = _KINDS[name]
        rows = cur.execute(
            f"SELECT {spec.id}, {spec.label} FROM ({_source(cur, spec)}) {spec.label_join} ORDER BY {spec.order}"
        ).fetchall()
        index.extend({"kind": name, "id": ident, "label": label} for ident, label in rows)
    return index


def _branch(position: int, spec: _Kind, source: str, terms: list[str], limit: int) -> tuple[str, list]:
    """One kind's best `limit` matches: (SQL, parameters)."""

    # A word without a slash can only meet a sales order line's id in its sales order id (id_key), so
    # the built id is needed only for a word with one.
    def id_of(term: str) -> str:
        return f"({spec.id})" if "/" in term else "id_key"

    match, match_params = [], []
    for term in terms:
        conditions = [f"{id_of(term)} {_ILIKE}", *spec.fields]
        match_params += [f"%{_like(term)}%"] * len(conditions)
        # A status has a handful of values: the ones holding the word are known before any row is read.
        for column, values in spec.enums:
            hit = [value for value in values if term in value]
            if hit:
                conditions.append(f"{column} IN ({', '.join('?' for _ in hit)})")
                match_params += hit
        match.append("(" + " OR ".join(conditions) + ")")
    exact = " OR ".join(f"lower({id_of(t)}) = ?" for t in terms) or "false"
    prefix = " OR ".join(f"{id_of(t)} {_ILIKE}" for t in terms) or "false"
    within = " OR ".join(f"{id_of(t)} {_ILIKE}" for t in terms) or "false"
    # The best rows first, then their ids and labels: only the rows returned pay for building them.
    sql = f"""
        SELECT {position} AS kind_order, {spec.id} AS id, {spec.label} AS label, score,
               row_number() OVER (ORDER BY score DESC, {spec.order}) AS rank
        FROM (SELECT *, CASE WHEN {exact} THEN {EXACT} WHEN {prefix} THEN {PREFIX}
                             WHEN {within} THEN {ID_CONTAINS} ELSE {LABEL} END::DOUBLE AS score
              FROM ({source})
              WHERE {" AND ".join(match) or "true"}
              ORDER BY score DESC, {spec.order} LIMIT ?) {spec.label_join}"""
    params = terms + [f"{_like(t)}%" for t in terms] + [f"%{_like(t)}%" for t in terms] + match_params + [limit]
    return sql, params


def find(
    cur: duckdb.DuckDBPyConnection, words: str, *, kind: str | Iterable[str] | None = None, limit: int = 20
) -> list[dict]:
    """The best `limit` of everything a planner can go to where every word (any case) occurs in the id or in
    what the label shows (a name, description, reason, item, customer id or name, status), as
    {kind, id, label, score}: the id typed exactly first (score 1.0; a sales order's number matches each of its
    lines "SO/line"), then ids starting with a word (0.8), ids containing one (0.6), then label matches (0.4);
    ties by kind (small tables first), then id. No words matches everything (the first `limit` by kind and id).
    Raises BadRequest for an unknown kind or a limit below 1."""
    if limit < 1:
        raise BadRequest(f"limit must be at least 1, not {limit}")
    terms = [w.lower() for w in words.split()]
    kinds = _kinds(kind)
    branches, params = [], []
    for position, name in enumerate(kinds):
        sql, branch_params = _branch(position, _KINDS[name], _source(cur, _KINDS[name]), terms, limit)
        branches.append(sql)
        params += branch_params
    sql = " UNION ALL ".join(branches) + " ORDER BY score DESC, kind_order, rank LIMIT ?"
    return [
        {"kind": kinds[position], "id": ident, "label": label, "score": score}
        for position, ident, label, score, _ in cur.execute(sql, params + [limit]).fetchall()
    ]


def starting_points(
    cur: duckdb.DuckDBPyConnection, *, kind: str | Iterable[str] | None = None, limit: int | None = None
) -> list[dict]:
    """Where a planner usually starts, as {kind, id, label}: the stopped machines (down first, longest
    stopped first), the unavailable resources (longest out first), then the active quality holds (newest
    first); of `kind` only, at most `limit`."""
    if limit is not None and limit < 1:
        raise BadRequest(f"limit must be at least 1, not {limit}")
    kinds = _kinds(kind)
    points = []
    if "machine" in kinds:
        points += [
            {
                "kind": "machine",
                "id": m["machine_id"],
                "label": " ".join(part for part in (m["name"], f"({m['state']})") if part),
            }
            for m in list_machines(cur, stopped_only=True)
        ]
    if "resource" in kinds:
        absent = sorted(
            unavailable_resources(cur), key=lambda r: (r["since"] is None, str(r["since"]), r["resource_id"])
        )
        points += [
            {
                "kind": "resource",
                "id": r["resource_id"],
                "label": " ".join(part for part in (r["name"], f"({r['kind']}, unavailable)") if part),
            }
            for r in absent
        ]
    if "hold" in kinds:
        # Not orders.active_holds: how far each held lot travelled is more than a list of names needs.
        holds = _KINDS["hold"]
        points += [
            {"kind": "hold", "id": ident, "label": label}
            for ident, label in cur.execute(
                f"SELECT {holds.id}, {holds.label} FROM ({holds.source}) WHERE status = 'active' "
                "ORDER BY placed_at DESC, id_key"
            ).fetchall()
        ]
    return points[:limit]
