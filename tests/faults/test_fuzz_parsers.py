"""Fuzzing the parsers with hypothesis, for a bounded number of derandomized examples: the CloudEvents
envelope and data (parse_line, parse_batch, parse_event, and on through apply_events to a real store),
the snapshot readers (CSV, JSON, JSON Lines, Parquet and snapshot.json, through load_snapshot on a
folder), the feed server's script reader, and the settings (a TOML file and PLANNER_TUI_* variables).

Whatever the input, each returns a result or raises a PlannerError (or the ValueError its docstring
promises): never RecursionError, UnicodeError, KeyError, TypeError, OverflowError or a DuckDB error.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from eventkit import plant
from hypothesis import example, given
from hypothesis import strategies as st
from test_load import PLANT, write_plant

from faults.kit import fault_settings
from planner_tui.errors import PlannerError, SnapshotError
from planner_tui.feeds.server import read_script
from planner_tui.store import Store
from planner_tui.store.events import (
    KNOWN_TYPES,
    apply_events,
    parse_batch,
    parse_event,
    parse_event_time,
    parse_line,
    parse_sequence,
)
from planner_tui.store.loader import load_snapshot

# --------------------------------------------------------------------------------------- strategies

# Text as a hostile producer writes it: any code point, and often one of the awkward ones (a lone
# surrogate, NUL, a byte-order mark, a line separator, an astral character) somewhere in it.
AWKWARD = st.sampled_from(["\ud800", "\udfff", "\udc00", "\x00", "\ufeff", "\u2028", "\U0001f600"])
TEXT = st.one_of(st.text(max_size=20), st.tuples(st.text(max_size=10), AWKWARD, st.text(max_size=10)).map("".join))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([2**31, 2**63, -1, 0, 10**30, 1e308, -0.0]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)

TYPES = [*KNOWN_TYPES, "shift.started"]  # every registered type, and one nobody knows
DATA_KEYS = [
    "machine_id",
    "reason",
    "expected_minutes",
    "hold_id",
    "lot_id",
    "placed_by",
    "sales_order_id",
    "line_no",
    "customer_id",
    "item_id",
    "qty",
    "promised_date",
    "production_order_id",
    "op_seq",
    "purchase_order_id",
    "shipment_id",
    "location",
    "qty_delta",
]
PLANT_IDS = ["M1", "M2", "L1", "L2", "H0", "SO1", "C1", "FG1", "RM1", "P1", "PO1", "SH1", "WH", 1, 10, 20]
TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-01-05T08:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999-23:59",
            "2026-01-05T08:00:00+99:99",
            "2026-02-30T00:00:00Z",
            "2026-01-05 08:00",
            "20260105T080000Z",
        ]
    ),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    TEXT,
    SCALARS,
)

# An envelope close enough to valid that the data is read, with any attribute possibly wrong.
DATA = st.dictionaries(st.sampled_from(DATA_KEYS), st.one_of(st.sampled_from(PLANT_IDS), JSON_VALUES), max_size=6)
ENVELOPES = st.fixed_dictionaries(
    {
        "specversion": st.one_of(st.just("1.0"), JSON_VALUES),
        "id": st.one_of(TEXT, JSON_VALUES),
        "source": st.one_of(st.just("urn:fuzz"), TEXT, JSON_VALUES),
        "type": st.one_of(st.sampled_from(TYPES), TEXT),
        "time": TIMES,
    },
    optional={
        "sequence": st.one_of(st.integers(-5, 2**64), TEXT, JSON_VALUES),
        "data": st.one_of(DATA, JSON_VALUES),
        "datacontenttype": st.one_of(st.just("application/json"), JSON_VALUES),
        "data_base64": TEXT,
        "subject": JSON_VALUES,
        "ext": JSON_VALUES,
    },
)

DEEP = st.integers(1_100, 3_000).map(lambda n: "[" * n + "]" * n)  # past the parser's recursion limit
RAW_JSON_TEXT = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v, ensure_ascii=False)),
    ENVELOPES.map(lambda v: json.dumps(v, ensure_ascii=False)),
    ENVELOPES.map(json.dumps),  # \\ud800 escapes, not characters
    TEXT,
    DEEP,
    st.tuples(ENVELOPES, DEEP).map(lambda p: json.dumps(p[0])[:-1] + ', "data": ' + p[1] + "}"),
    st.integers(4300, 6000).map(lambda n: '{"specversion": "1.0", "sequence": ' + "9" * n + "}"),
)


def _documented(error: BaseException, *allowed: type[BaseException]) -> bool:
    return isinstance(error, (PlannerError, *allowed))


def _applied(store: Store, events: list[dict], feed: str):
    """apply_events, which must take whatever parsing returned: it never raises for an event's content."""
    try:
        return apply_events(store, events, feed=feed)
    except Exception as error:  # noqa: BLE001
        raise AssertionError(f"apply_events raised {type(error).__name__}: {str(error)[:300]}") from None


# ----------------------------------------------------------------------------------- the envelope


@pytest.fixture(scope="module")
def event_store():
    store = plant()
    yield store
    store.close()


@fault_settings(150)
@given(text=RAW_JSON_TEXT)
@example(text="[" * 100_000)
@example(
    text='{"specversion": "1.0", "id": "x", "source": "s", "type": "machine.down", '
    '"time": "2026-01-05T08:00:00Z", "data": {"machine_id": "M1", "reason": "\\ud800"}}'
)
def test_parse_line_always_returns_an_event_and_the_store_takes_it(event_store, text):
    try:
        event = parse_line(text, fallback_source="fuzz-file", fallback_id="line@0")
    except Exception as error:  # noqa: BLE001 - the point is which
        assert _documented(error), f"parse_line raised {type(error).__name__}: {error}"
        return
    assert isinstance(event, dict) and event["source"] and event["id"]
    assert event["error"] is None or isinstance(event["error"], str)
    assert _applied(event_store, [event], "fuzz-file").received == 1  # the store takes what parsing gave


@fault_settings(150)
@given(obj=st.one_of(ENVELOPES, JSON_VALUES))
def test_parse_event_and_apply_never_raise(event_store, obj):
    try:
        event = parse_event(obj, fallback_source="fuzz")
    except Exception as error:  # noqa: BLE001
        assert _documented(error), f"parse_event raised {type(error).__name__}: {error}"
        return
    assert isinstance(event, dict) and event["id"]
    assert _applied(event_store, [event], "fuzz").received == 1


@fault_settings(60)
@given(body=st.one_of(st.lists(st.one_of(ENVELOPES, JSON_VALUES), max_size=6), JSON_VALUES))
def test_parse_batch_returns_events_or_says_it_is_not_an_array(event_store, body):
    try:
        events = parse_batch(body, fallback_source="http://fuzz/events")
    except ValueError as error:
        assert not isinstance(body, list), f"parse_batch refused a JSON array: {error}"
        return
    except Exception as error:  # noqa: BLE001
        raise AssertionError(f"parse_batch raised {type(error).__name__}: {error}") from None
    assert len(events) == len(body)
    assert _applied(event_store, events, "http://fuzz/events").received == len(events)


@fault_settings(100)
@given(value=st.one_of(TIMES, SCALARS))
def test_time_and_sequence_parsers_raise_only_value_error(value):
    for parse in (parse_event_time, parse_sequence):
        try:
            parse(value)
        except ValueError:
            pass
        except Exception as error:  # noqa: BLE001
            raise AssertionError(f"{parse.__name__}({value!r}) raised {type(error).__name__}: {error}") from None


# ------------------------------------------------------------------------------- snapshot readers


def _machines_parquet() -> bytes:
    rows = PLANT["machines"].splitlines()
    header, records = rows[0].split(","), [r.split(",") for r in rows[1:]]
    table = pa.table({h: pa.array([r[i] for r in records], pa.string()) for i, h in enumerate(header)})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


VALID = {
    "csv": PLANT["machines"].encode(),
    "parquet": _machines_parquet(),
    "jsonl": b'{"machine_id": "M1"}\n{"machine_id": "M2", "name": "Press"}\n',
    "json": b'[{"machine_id": "M1", "name": null}, {"machine_id": "M2"}]',
}


@st.composite
def mutated_files(draw):
    """(format, bytes): a valid machines file with a generated mutation, or something else entirely."""
    fmt = draw(st.sampled_from(sorted(VALID)))
    data = bytearray(VALID[fmt])
    how = draw(st.sampled_from(["insert", "replace", "truncate", "flip", "whole", "deep", "huge_number"]))
    at = draw(st.integers(0, len(data)))
    if how == "insert":
        data[at:at] = draw(st.one_of(st.binary(max_size=40), TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))))
    elif how == "replace":
        data[at : at + draw(st.integers(1, 20))] = draw(st.binary(max_size=20))
    elif how == "truncate":
        del data[at:]
    elif how == "flip" and data:
        i = min(at, len(data) - 1)
        data[i] ^= draw(st.integers(1, 255))
    elif how == "whole":
        data = bytearray(
            draw(st.one_of(st.binary(max_size=200), RAW_JSON_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))))
        )
    elif how == "deep":
        n = draw(st.integers(1_100, 3_000))
        data = bytearray(b"[" * n + b"]" * n if fmt != "jsonl" else b'{"machine_id": ' + b"[" * n + b"]" * n + b"}\n")
    else:
        data = bytearray(b'[{"machine_id": "M1", "name": ' + b"9" * draw(st.integers(4300, 6000)) + b"}]")
    return fmt, bytes(data)


@pytest.fixture(scope="module")
def snapshot_store():
    store = Store.memory()
    yield store
    store.close()


def _load_one(store: Store, files: dict[str, bytes]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="faults-fuzz-"))
    try:
        write_plant(folder, machines=None)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        try:
            load_snapshot(store, folder)
        except PlannerError:
            pass
        except Exception as error:  # noqa: BLE001
            raise AssertionError(f"load_snapshot raised {type(error).__name__}: {str(error)[:300]}") from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@fault_settings(20)
@given(file=mutated_files())
@example(file=("json", b"[" * 5000 + b"]" * 5000))
@example(file=("jsonl", b'{"machine_id": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"))
@example(file=("json", b'[{"machine_id": "M1", "name": ' + b"9" * 5000 + b"}]"))
@example(file=("csv", b"machine_id,name\nM1,\xff\xfe\n"))
@example(file=("jsonl", b'{"machine_id": "M1\\ud800"}\n'))
@example(file=("parquet", VALID["parquet"][: len(VALID["parquet"]) // 2]))
def test_snapshot_readers_return_a_snapshot_or_a_snapshot_error(snapshot_store, file):
    fmt, data = file
    _load_one(snapshot_store, {f"machines.{fmt}": data})


@fault_settings(10)
@given(
    meta=st.one_of(
        RAW_JSON_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=100),
        st.dictionaries(st.sampled_from(["as_of", "plant", "x"]), JSON_VALUES).map(lambda d: json.dumps(d).encode()),
    )
)
@example(meta=b'{"as_of": ' + b"[" * 5000 + b"]" * 5000 + b"}")
@example(meta=b'{"plant": "\\ud800"}')
@example(meta=b"\xff\xfe{}")
def test_snapshot_metadata_is_read_or_refused_as_a_problem(snapshot_store, meta):
    try:
        _load_one(snapshot_store, {"machines.csv": VALID["csv"], "snapshot.json": meta})
    except SnapshotError:  # pragma: no cover - _load_one already takes PlannerError
        pass


# ------------------------------------------------------------------------------ the script reader


@fault_settings(80)
@given(
    lines=st.lists(
        st.one_of(RAW_JSON_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=60)), max_size=5
    ),
    bom=st.booleans(),
)
@example(lines=[b"[" * 5000 + b"]" * 5000], bom=False)
@example(lines=[b'{"id": "e1", "time": "2026-01-05T08:00:00Z"}', b"\xff\xfe"], bom=True)
@example(lines=[b'{"id": "e1", "sequence": ' + b"9" * 5000 + b"}"], bom=False)
def test_the_feed_servers_script_reader_returns_events_or_a_planner_error(lines, bom):
    folder = Path(tempfile.mkdtemp(prefix="faults-script-"))
    try:
        path = folder / "script.jsonl"
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines) + b"\n")
        try:
            events = read_script(path)
        except PlannerError:
            return
        except Exception as error:  # noqa: BLE001
            raise AssertionError(f"read_script raised {type(error).__name__}: {str(error)[:300]}") from None
        assert all(isinstance(e, dict) and isinstance(e["sequence"], int) for e in events)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------------------ settings

SETTING_KEYS = ["db", "server", "events", "poll", "theme", "log_level", "keymap", "unknown", "Poll", "db.x"]
ENV_NAMES = [
    "PLANNER_TUI_DB",
    "PLANNER_TUI_SERVER",
    "PLANNER_TUI_EVENTS",
    "PLANNER_TUI_POLL",
    "PLANNER_TUI_THEME",
    "PLANNER_TUI_LOG_LEVEL",
]


def _toml_value(value) -> str:
    """A TOML literal for a JSON-ish value (strings escaped as JSON does, which TOML basic strings read)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return {float("inf"): "inf", float("-inf"): "-inf"}.get(value, repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return '""'


TOML_VALUES = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        TEXT,
        st.sampled_from(["sample.duckdb", "~/plant.duckdb", "http://u:p@mes/events", "debug", "0.05", "nord", "q", ""]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)
TOML_TEXT = st.one_of(
    st.dictionaries(st.sampled_from(SETTING_KEYS), TOML_VALUES, max_size=5).map(
        lambda d: "".join(f"{json.dumps(k) if '.' in k else k} = {_toml_value(v)}\n" for k, v in d.items())
    ),
    TEXT,
    st.integers(1_100, 3_000).map(lambda n: "events = " + "[" * n + "]" * n + "\n"),
    st.integers(1_100, 3_000).map(lambda n: "keymap = " + "{a = " * n + "1" + "}" * n + "\n"),
)


@fault_settings(60)
@given(
    text=st.one_of(TOML_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=80)),
    env=st.dictionaries(
        st.sampled_from(ENV_NAMES),
        st.one_of(TEXT, st.sampled_from(["nan", "inf", "-1", "1e400", "0.1", "a.jsonl,,b.jsonl", " ", "DEBUG"])),
        max_size=3,
    ),
)
@example(text=b"events = " + b"[" * 5000 + b"]" * 5000 + b"\n", env={})
@example(text=b'db = "\xff\xfe"\n', env={})
@example(text=b"poll = nan\n", env={"PLANNER_TUI_POLL": "nan"})
def test_the_settings_file_and_variables_are_read_or_refused_in_one_line(text, env):
    from planner_tui import settings as planner_settings

    folder = Path(tempfile.mkdtemp(prefix="faults-settings-"))
    try:
        path = folder / "config.toml"
        path.write_bytes(text)
        try:
            loaded = planner_settings.load(path, env={k: v.encode("utf-8", "replace").decode() for k, v in env.items()})
        except PlannerError as error:
            assert "\n" not in str(error).strip(), str(error)
            return
        except Exception as error:  # noqa: BLE001
            raise AssertionError(f"settings.load raised {type(error).__name__}: {str(error)[:300]}") from None
        shown = loaded.items()  # what `config show` prints must be there for whatever was accepted
        assert [name for name, _, _ in shown] and loaded.poll >= 0.1
        json.dumps([value for _, value, _ in shown])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
