"""The shift report's HTML page in a real browser (issue 14): headless Chromium (Debian's `chromium`) opens the
page `planner-tui report shift --format html` wrote, from a file and with the network cut off, and renders
it: its DOM has the timeline's bars and every section, and its screenshot is a full page.

Skips only when there is no Chromium and apt-get cannot install it (.ci/run installs it on CI).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from plantkit import scenario_db
from typer.testing import CliRunner

from planner_tui.cli import app

NAMES = ("chromium", "chromium-browser", "google-chrome")


def _chromium() -> str:
    found = next((shutil.which(name) for name in NAMES if shutil.which(name)), None)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            timeout=600,
        )
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("no Chromium, and apt-get could not install it")
    return found


def _browse(browser: str, page: Path, *flags: str) -> subprocess.CompletedProcess:
    # No sandbox: the tests run as root. No network: the page must need nothing from outside.
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
    command += ["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", *flags, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=page.parent)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def test_the_handover_page_renders_in_a_real_browser(tmp_path: Path) -> None:
    browser = _chromium()
    db = scenario_db(tmp_path / "plant.duckdb")
    page = tmp_path / "shift.html"
    done = CliRunner().invoke(
        app, ["report", "shift", "--at", "2026-11-23T12:00", "--db", str(db), "--format", "html", "--out", str(page)]
    )
    assert done.exit_code == 0, done.output

    dom = _browse(browser, page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    assert rendered.count("<rect") == 4, "the timeline: the weld cell, the press, two holds"
    for heading in ("Timeline", "Needs attention now", "Machine stops", "Quality holds", "Feed health"):
        assert f"<h2>{heading}" in rendered, heading

    shot = tmp_path / "shift.png"
    taken = _browse(browser, page, "--window-size=1100,1400", f"--screenshot={shot}")
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert _png_size(shot) == (1100, 1400)
    assert shot.stat().st_size > 50_000, "a page of text and bars, not a blank one"
