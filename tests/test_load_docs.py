"""docs/snapshot-format.md describes exactly the contract in contract.py (names, order, types, rules)."""

from __future__ import annotations

import re

from planner_tui.store.contract import DATE, INT, QTY, TABLES, TS

TYPE_WORDS = {"VARCHAR": "text", INT: "integer", QTY: "number", TS: "timestamp", DATE: "date"}


def _documented_tables(text: str) -> dict[str, tuple[str, list[list[str]], str]]:
    """table -> (required|optional, rows of its column table, its whole section)."""
    sections = re.split(r"^### ", text, flags=re.M)[1:]
    found = {}
    for section in sections:
        head = re.match(r"`(\w+)` \((required|optional)\)", section)
        if not head:
            continue
        rows = [
            [cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines()
            if line.startswith("| `")
        ]
        found[head[1]] = (head[2], rows, section)
    return found


def test_every_table_and_column_is_documented_as_in_the_contract(repo_root):
    documented = _documented_tables((repo_root / "docs" / "snapshot-format.md").read_text())
    assert list(documented) == [t.name for t in TABLES]
    for t in TABLES:
        required, rows, section = documented[t.name]
        assert required == ("required" if t.required else "optional"), t.name
        assert [r[0].strip("`") for r in rows] == t.column_names, t.name
        assert f"Key: {', '.join(f'`{k}`' for k in t.key)}" in section, t.name
        for col, (_name, type_word, empty, rules) in zip(t.columns, rows):
            where = f"{t.name}.{col.name}"
            assert type_word == TYPE_WORDS[col.type], where
            assert empty == ("yes" if col.nullable else "no"), where
            for value in col.enum or ():
                assert f"`{value}`" in rules, where
            assert ("> 0" in rules) == col.positive, where
            assert ("may be left out" in rules) == col.optional, where
            if col.default is not None:
                assert f"empty means {col.default}" in rules, where
        for ref in t.references:
            for c, target in zip(ref.columns, ref.target):
                rules = rows[t.column_names.index(c)][3]
                assert f"`{ref.table}" in rules and (len(ref.columns) > 1 or f"`{ref.table}.{target}`" in rules), (
                    f"{t.name}.{c}"
                )


def test_the_rules_of_ranges_times_of_day_and_ends_are_documented(repo_root):
    """The contract's rules beyond types (issue 11): a range, a time of day, an end after its start."""
    documented = _documented_tables((repo_root / "docs" / "snapshot-format.md").read_text())
    for t in TABLES:
        _, rows, _ = documented[t.name]
        for col, (_name, _type, _empty, rules) in zip(t.columns, rows):
            where = f"{t.name}.{col.name}"
            assert (col.between is not None) == ("from " in rules and " to " in rules), where
            if col.between is not None:
                assert f"from {col.between[0]} to {col.between[1]}" in rules, where
            assert col.clock == ("time of day `HH:MM`" in rules), where
            assert (col.after is not None) == ("after `" in rules), where
            if col.after:
                assert f"after `{col.after}`" in rules, where
            assert (col.not_before is not None) == ("not before `" in rules), where
            if col.not_before:
                assert f"not before `{col.not_before}`" in rules, where
