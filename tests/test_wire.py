"""The wire both ways: answers as JSON and back (planner_tui.wire), arguments as text and back
(planner_tui.access.api), and server addresses (planner_tui.access.address)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from planner_tui.access.address import parse_address
from planner_tui.access.api import arguments, endpoints, to_wire
from planner_tui.errors import BadRequest
from planner_tui.wire import loads, to_json


def test_an_answer_read_back_is_the_same_python_value():
    answer = {
        "at": datetime(2026, 11, 25, 8, 0, 5),
        "due": date(2026, 11, 30),
        "rows": [{"eta": datetime(2026, 11, 26, 9, 30), "qty": 1.5, "note": "ship 2026-11-25T08:00 maybe"}],
        "none": None,
    }
    back = loads(to_json(answer))
    assert back == answer
    assert isinstance(back["rows"][0]["eta"], datetime) and isinstance(back["due"], date)


def test_not_a_number_is_null_on_the_wire():
    assert loads(to_json({"x": float("nan"), "y": [float("inf")]})) == {"x": None, "y": [None]}


def test_every_question_argument_survives_the_wire():
    compared = 0
    samples = {
        "datetime": datetime(2026, 11, 25, 8, 0),
        "bool": True,
        "int": 7,
        "float": 90.5,
        "str": "M-WELD-01",
        "list": ["A", "B"],
        "str_or_list": ["machine", "hold"],
        "datetime_or_str": "2h",
    }
    for endpoint in endpoints().values():
        given = {param.name: samples[param.kind] for param in endpoint.params}
        wired = {name: to_wire(value) for name, value in given.items()}
        assert arguments(endpoint, wired) == given, endpoint.name
        compared += len(given)
    assert compared > 20


def test_bad_arguments_name_the_argument_and_the_value():
    exceptions = endpoints()["exceptions"]
    with pytest.raises(BadRequest, match="include_resolved.*'maybe'"):
        arguments(exceptions, {"include_resolved": "maybe"})
    with pytest.raises(BadRequest, match="takes no argument 'colour'"):
        arguments(exceptions, {"colour": "red"})
    with pytest.raises(BadRequest, match="malformed at time 'yesterday'"):
        arguments(exceptions, {"at": "yesterday"})
    with pytest.raises(BadRequest, match="needs the argument 'person'"):
        arguments(endpoints()["assign"], {})


def test_triage_takes_no_who_or_when_over_the_wire():
    for name in ("acknowledge", "assign", "note", "snooze", "resolve", "reopen"):
        endpoint = endpoints()[name]
        assert endpoint.verb == "POST" and endpoint.path_param is not None
        assert not {"who", "at"} & {param.name for param in endpoint.params}


@pytest.mark.parametrize(
    ("text", "shown", "base"),
    [
        ("unix:/run/planner-tui/plant.sock", "unix:/run/planner-tui/plant.sock", "http://planner-tui"),
        ("/tmp/p.sock", "unix:/tmp/p.sock", "http://planner-tui"),
        ("tcp:127.0.0.1:8080", "tcp:127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://plant.example:8443", "https://plant.example:8443", "https://plant.example:8443"),
        ("tcp:[::1]:9000", "tcp:[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_addresses(text, shown, base):
    address = parse_address(text)
    assert str(address) == shown and address.base_url == base


@pytest.mark.parametrize("text", ["", "plant.example:80", "tcp:host:port", "tcp:h:70000", "unix:", "ftp://x"])
def test_a_bad_address_says_what_is_expected(text):
    with pytest.raises(BadRequest, match="expected unix:PATH|port"):
        parse_address(text)
