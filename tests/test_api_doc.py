"""docs/api.md is what planner_tui/server/apidoc.py generates from the code, and lists every endpoint.

When this fails after a change to PlantData or the server, regenerate the page:
`python -m planner_tui.server.apidoc > docs/api.md`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planner_tui.access.api import endpoints
from planner_tui.server import apidoc

REGENERATE = f"docs/api.md is out of date: run `{apidoc.COMMAND}`"


def _shown(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def test_docs_api_md_is_what_apidoc_generates(repo_root: Path) -> None:
    plant = endpoints()
    assert len(plant) > 20  # the protocol was read: the page is not compared empty with empty
    generated = apidoc.render()
    written = (repo_root / "docs" / "api.md").read_text(encoding="utf-8")
    assert written == generated, REGENERATE


def test_every_endpoint_and_route_is_listed(repo_root: Path) -> None:
    written = (repo_root / "docs" / "api.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| (GET|POST) \| `([^`]+)` \|", written, re.MULTILINE))
    plant = {(endpoint.verb, _shown(endpoint.path)) for endpoint in endpoints().values()}
    routes = {(verb, _shown(path)) for verb, path in apidoc.server_routes()}
    assert len(plant) > 20 and len(routes) >= 5
    assert plant - rows == set(), REGENERATE
    assert routes - rows == set(), REGENERATE
    assert rows == plant | routes, "docs/api.md lists an endpoint the server does not have: " + REGENERATE
    for name in endpoints():
        assert f"- **`{name}`**" in written, REGENERATE


def test_every_stream_change_and_role_is_described() -> None:
    """What server/core.py publishes on the stream, read off its source, has its words in apidoc."""
    changes = apidoc.stream_changes()
    assert {"events", "feed", "triage", "load"} <= set(changes)
    assert set(changes) == set(apidoc.STREAM_WHATS)
    assert {field for fields in changes.values() for field in fields} == set(apidoc.STREAM_FIELDS)
    assert set(apidoc.hello_fields()) == set(apidoc.STREAM_HELLO)


def test_a_route_without_words_stops_the_generation(monkeypatch) -> None:
    """A route added to server/http.py must be described in apidoc.SERVER_ROUTES, not left out silently."""
    described = dict(apidoc.SERVER_ROUTES)
    described.pop(("GET", "/api/v1/whoami"))
    monkeypatch.setattr(apidoc, "SERVER_ROUTES", described)
    with pytest.raises(RuntimeError, match=r"/api/v1/whoami.*SERVER_ROUTES"):
        apidoc.render()
