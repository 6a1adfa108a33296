"""The supervisor's SSH story, for real: two planners log in to the plant's machine over OpenSSH, each runs the
console against one plant server, and triage is recorded under the login name the kernel vouches for.

What runs (all as root, all cleaned up even on failure, see tests/sshkit.py):

- an `sshd` of the test's own on 127.0.0.1 (a free port; its config, host key, pid file and authorized keys
  in a run folder under /tmp; key-only; only the two test users). /etc/ssh is not read or changed and no
  service is touched (only /run/sshd, the folder a packaged sshd needs, is made when missing);
- the OS users `ptui-ana` and `ptui-ben` in the group `ptui-plant`, created on the first run and kept;
- `planner-tui serve` on the sample plant, the database in a root-only folder, the Unix socket given to
  `ptui-plant` (`--group`), so the consoles reach the plant only through the server;
- each user's console over `ssh -tt` in a private tmux server (120x36), driven with send-keys and read with
  capture-pane; ana's login environment claims `USER` / `LOGNAME` "Plant Manager".

What it checks: ana opens the worst exception and acknowledges it; ben, with the same exception open, sees
"ptui-ana  ACKNOWLEDGE" arrive by itself (the live stream), then his inbox row acknowledged; ana's spoofed
environment shows nowhere; over SSH again, ana's `triage note` (spoofed) is recorded as ptui-ana and
`--who` is refused; ben's `exception show --json` has every triage action by ptui-ana; both consoles quit
with status 0; the server logged no traceback. About 15 s in all.

How the users run the checkout's planner-tui (the checkout and its .venv may be root-only, or the venv made
from a root-only Python such as pyenv under /root, as on the CI image): `sshkit.user_launcher` writes
`<run>/bin/planner-tui`, the first of three ways that imports the client as ptui-ana: the repo's .venv
itself; else a pip-less venv of a system Python of the same version whose .pth adds the repo venv's
site-packages (1-3 s with its checks, no copy, no network); else a venv readable by all under
/opt/planner-tui-ssh-test with the runtime dependencies of pyproject.toml installed by pip (about 20 s the
first time from pip's cache, kept and reused after: 0.4 s) plus a copy of `planner_tui/` on PYTHONPATH. Set
PTUI_SSH_FRESH_VENV=1 to force the third.

Skips only without root, or when sshd, ssh and tmux are missing and apt-get cannot install them (.ci/run
installs them on CI). One run at a time per machine (a lock file, `sshkit.exclusive`): the OS users are
shared. The `serial` mark says so too, though nothing in the suite acts on that mark yet.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sshkit

from planner_tui.access import LocalPlant
from planner_tui.store import Store
from planner_tui.store.loader import load_snapshot
from planner_tui.timeutil import utcnow

REPO = Path(__file__).resolve().parent.parent
ANA, BEN = sshkit.USERS
SPOOF = "Plant Manager"

pytestmark = [
    pytest.mark.serial,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_PEERCRED and useradd: Linux only"),
]


@dataclass
class Site:
    folder: Path
    socket: Path
    ssh: sshkit.SshClient
    terminals: sshkit.Terminals
    launcher: sshkit.Launcher
    exception: dict
    server_log: Path
    timings: dict[str, float] = field(default_factory=dict)

    def cli(self, user: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """planner-tui ARGS --server <the socket>, run over SSH as `user` (no terminal: clean stdout)."""
        prefix = ["env", *(f"{name}={value}" for name, value in env.items())] if env else []
        return self.ssh.run(user, [*prefix, str(self.launcher.path), *args, "--server", f"unix:{self.socket}"])


def _load_sample(sample_dir: Path, db: Path) -> list[dict]:
    """The sample plant into `db`; its exception inbox now, worst first."""
    store = Store.open(db)
    try:
        load_snapshot(store, str(sample_dir))
        return LocalPlant(store).exceptions(at=utcnow())["exceptions"]
    finally:
        store.close()


@pytest.fixture
def site(sample_dir: Path) -> Iterator[Site]:
    if os.geteuid() != 0:
        pytest.skip("needs root: it starts sshd and creates OS users")
    with sshkit.exclusive(), contextlib.ExitStack() as stack:
        started = time.monotonic()
        reason = sshkit.tools_reason()
        if reason is not None:
            pytest.skip(f"no OpenSSH server and tmux: {reason}")
        timings = {"tools": time.monotonic() - started}
        sshkit.ensure_accounts()
        folder = sshkit.run_folder()
        stack.callback(shutil.rmtree, folder, ignore_errors=True)

        data = folder / "data"  # root-only: the users reach the plant through the server alone
        data.mkdir(mode=0o700)
        db = data / "plant.duckdb"
        inbox = _load_sample(sample_dir, db)
        assert inbox, "the sample plant raises no exception at this clock: nothing to triage"

        sockets = folder / "run"
        sockets.mkdir(mode=0o755)
        socket = sockets / "plant.sock"
        server_log = folder / "serve.log"
        command = [sys.executable, "-m", "planner_tui", "serve", "--db", str(db)]
        command += ["--listen", f"unix:{socket}", "--group", sshkit.GROUP]
        with open(server_log, "w") as log:
            server = subprocess.Popen(command, stdout=log, stderr=log, cwd=folder)
        stack.callback(sshkit.stop_process, server)

        # While the server starts: the users' planner-tui, then sshd.
        mark = time.monotonic()
        try:
            launcher = sshkit.user_launcher(REPO, folder, ANA, fresh=bool(os.environ.get("PTUI_SSH_FRESH_VENV")))
        except sshkit.CannotRun as error:
            pytest.skip(str(error))
        timings["launcher"] = time.monotonic() - mark
        key, public = sshkit.make_client_key(folder)
        sshd = sshkit.Sshd(folder, sshkit.USERS, public)
        stack.callback(sshd.stop)
        sshd.start()
        sshkit.wait_for_text(server_log, "listening on", server, 30, "planner-tui serve")

        terminals = sshkit.Terminals(folder)
        stack.callback(terminals.close)
        timings["setup"] = time.monotonic() - started
        yield Site(
            folder,
            socket,
            sshkit.SshClient(sshd.port, key),
            terminals,
            launcher,
            inbox[0],
            server_log,
            timings,
        )


def test_two_supervisors_triage_over_ssh(site: Site) -> None:
    exception_id = site.exception["exception_id"]
    row = re.escape(site.exception["title"][:30])  # the inbox row (the title column truncates)
    opened = rf"Plant > {re.escape(exception_id)}"  # the exception screen's breadcrumb
    by_ana = rf"\b{ANA}\s+ACKNOWLEDGE\b"  # its history line
    terminals = site.terminals
    mark = time.monotonic()

    info = os.stat(site.socket)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert info.st_gid == grp.getgrnam(sshkit.GROUP).gr_gid

    console = [str(site.launcher.path), "run", "--server", f"unix:{site.socket}"]
    terminals.open("ben", site.ssh.argv(BEN, console, tty=True))
    terminals.open("ana", site.ssh.argv(ANA, ["env", f"USER={SPOOF}", f"LOGNAME={SPOOF}", *console], tty=True))
    for name in ("ben", "ana"):
        terminals.wait_for(name, rf"open .*{row}", 45, what="the inbox listing the exception, open")
    site.timings["consoles"] = time.monotonic() - mark

    # Both open the worst exception (the inbox's first row, focused); ana acknowledges it.
    for name in ("ben", "ana"):
        terminals.keys(name, "Enter")
        terminals.wait_for(name, opened, what="the exception screen")
        terminals.wait_for(name, r"status OPEN", what="the exception, open")
    terminals.keys("ana", "a")
    terminals.wait_for("ana", rf"acknowledged by {ANA}\b", what="the console saying who acknowledged")
    shown = terminals.wait_for("ana", by_ana, what="ana's acknowledgement in the history")
    assert "status ACKNOWLEDGED" in shown
    assert SPOOF not in shown

    # Ben's screen follows by itself (the server's live stream): the history says by whom, and so does
    # his inbox row when he goes back.
    shown = terminals.wait_for("ben", by_ana, what="ana's acknowledgement in ben's history, live")
    assert "status ACKNOWLEDGED" in shown
    assert SPOOF not in shown
    terminals.keys("ben", "Escape")
    terminals.wait_for("ben", rf"acknowledged .*{row}", what="ben's inbox row, acknowledged")
    site.timings["triage"] = time.monotonic() - mark

    # From the command line over SSH, ana's spoofed USER / LOGNAME change nothing either, and --who is
    # refused (both at once); then ben's `exception show` says who did what.
    spoofed = {"USER": SPOOF, "LOGNAME": SPOOF}
    with ThreadPoolExecutor(2) as pool:
        claimed = pool.submit(site.cli, ANA, "triage", "note", exception_id, "as him", "--who", SPOOF, env=spoofed)
        noted = pool.submit(site.cli, ANA, "triage", "note", exception_id, "checked over ssh", "--json", env=spoofed)
        refused, done = claimed.result(), noted.result()
    assert refused.returncode == 2, (refused.returncode, refused.stdout, refused.stderr)
    assert "--who" in refused.stderr
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["last_action"]["who"] == ANA

    done = site.cli(BEN, "exception", "show", exception_id, "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == "acknowledged"
    assert (record["last_action"]["who"], record["last_action"]["action"]) == (ANA, "note")
    if "updated_by" in record:
        assert record["updated_by"] == ANA
    triage = [(entry["who"], entry["action"]) for entry in record["history"] if entry["kind"] == "triage"]
    assert sorted(triage) == [(ANA, "acknowledge"), (ANA, "note")]
    assert SPOOF not in done.stdout
    site.timings["cli"] = time.monotonic() - mark

    # Both consoles quit cleanly over SSH.
    for name in ("ana", "ben"):
        terminals.keys(name, "q")
    # A busy console (a refresh under way on a loaded machine) may miss the first key over SSH: press q
    # again every 5 s until it has ended.
    deadline = time.monotonic() + 30
    pressed = time.monotonic()
    while time.monotonic() < deadline and not all(terminals.ended(name) for name in ("ana", "ben")):
        if time.monotonic() - pressed > 5:
            for name in ("ana", "ben"):
                if not terminals.ended(name):
                    terminals.keys(name, "q")
            pressed = time.monotonic()
        time.sleep(0.1)
    assert [terminals.ended(name) for name in ("ana", "ben")] == ["exit 0", "exit 0"], [
        terminals.screen(name) for name in ("ana", "ben")
    ]
    site.timings["total"] = time.monotonic() - mark
    log = site.server_log.read_text()
    assert "Traceback" not in log, log
    print(f"\nssh test: {site.launcher.how}; seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in site.timings.items()))
