"""Real OpenSSH, real OS users and real terminals for tests (tests/test_ssh.py): everything here runs as root.

- `tools_reason()`: why the tools cannot be had (None when sshd, ssh, ssh-keygen and tmux are there, installed
  with apt-get when missing, as .ci/run does).
- `exclusive()`: one run at a time on the machine (the OS users and the apt lock are shared by every run).
- `ensure_accounts()`: the test users and their group, created once and left for the next run.
- `Sshd`: an `sshd` of our own on 127.0.0.1, its config, host key, pid file and authorized keys in a run folder;
  nothing under /etc/ssh is read or changed, and no service is touched.
- `Terminals`: a private tmux server (its own socket, its own config), one session per terminal.
- `user_launcher()`: a `planner-tui` the test users can run (see its docstring for how it is chosen).
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import hashlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

USERS = ("ptui-ana", "ptui-ben")
GROUP = "ptui-plant"
# binary -> the Debian package that has it (the same list as .ci/run)
TOOLS = {"sshd": "openssh-server", "ssh": "openssh-client", "ssh-keygen": "openssh-client", "tmux": "tmux"}
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LOCK_FILE = Path(tempfile.gettempdir()) / "planner-tui-ssh-test.lock"
SHARED_VENVS = Path("/opt/planner-tui-ssh-test")  # the fallback venvs, kept between runs
# What a launcher must import to be a working client (the server's own packages are not needed).
PROBE = "import planner_tui.cli, planner_tui.access.remote, httpx, textual, duckdb"


class CannotRun(Exception):
    """The machine cannot run the test at all (the test skips with this reason)."""


# ---------------------------------------------------------------------------------------------- the machine


def which(name: str) -> str | None:
    return shutil.which(name, path=SBIN_PATH)


def tools_reason() -> str | None:
    """None when every tool is there; else install the missing ones (as root, with apt-get) or say why not."""
    missing = sorted({TOOLS[name] for name in TOOLS if which(name) is None})
    if not missing:
        return None
    if os.geteuid() != 0:
        return f"needs root to install {', '.join(missing)}"
    if which("apt-get") is None:
        return f"{', '.join(missing)} missing and no apt-get to install them"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, text=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
    still = sorted(name for name in TOOLS if which(name) is None)
    if still:
        return f"cannot install {', '.join(missing)} ({', '.join(still)} still missing): {done.stderr.strip()[-300:]}"
    return None


@contextlib.contextmanager
def exclusive(timeout: float = 300.0) -> Iterator[None]:
    """Hold the machine-wide lock of the SSH test: two runs at once (two pytest sessions, or xdist workers)
    would share the OS users; the second waits for the first."""
    with open(LOCK_FILE, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another SSH test run held {LOCK_FILE} for {timeout:.0f} s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(list(argv), capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)} failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    return done


def ensure_accounts(users: Sequence[str] = USERS, group: str = GROUP) -> None:
    """The group and the users in it, with a home and a shell; idempotent (users from a past run are kept).
    The password is '*' (no password, but not a locked account, which sshd without PAM would refuse)."""
    try:
        grp.getgrnam(group)
    except KeyError:
        _run(["groupadd", group])
    for user in users:
        try:
            pwd.getpwnam(user)
        except KeyError:
            _run(["useradd", "--create-home", "--shell", "/bin/bash", "--groups", group, "--password", "*", user])
        else:
            _run(["usermod", "--append", "--groups", group, "--password", "*", user])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_folder() -> Path:
    """A fresh folder the test users can traverse (but not write): the socket, keys and launcher live here.
    (pytest's tmp_path is under a root-only folder.)"""
    folder = Path(tempfile.mkdtemp(prefix="ptui-ssh-"))
    folder.chmod(0o755)
    return folder


def as_user(user: str, argv: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run argv as `user` (with their groups), the way a login would, without a shell."""
    entry = pwd.getpwnam(user)
    groups = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
    env = {
        "HOME": entry.pw_dir,
        "USER": user,
        "LOGNAME": user,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }
    return subprocess.run(
        list(argv),
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=groups,
        env=env,
        cwd=entry.pw_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stop_process(process: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds: only this process, by its id."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def wait_for_text(path: Path, needle: str, process: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        if needle in text:
            return
        if process.poll() is not None:
            raise AssertionError(f"{what} exited ({process.returncode}) before saying {needle!r}:\n{text[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(
        f"{what} did not say {needle!r} in {timeout:.0f} s:\n{path.read_text(errors='replace')[-3000:]}"
    )


# ---------------------------------------------------------------------------------------------- sshd


class Sshd:
    """An OpenSSH server of the test's own: 127.0.0.1:port, key-only, only the given users, each with the
    public key given (AuthorizedKeysFile in the run folder, so the users' homes are not touched)."""

    def __init__(self, folder: Path, users: Sequence[str], public_key: str):
        self.folder = folder / "sshd"
        self.folder.mkdir(mode=0o755)
        keys = self.folder / "authorized_keys"
        keys.mkdir(mode=0o755)
        for user in users:
            (keys / user).write_text(public_key)
            (keys / user).chmod(0o644)
        self.host_key = self.folder / "host_ed25519"
        _run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "planner-tui ssh test host", "-f", str(self.host_key)]
        )
        self.port = free_port()
        self.config = self.folder / "sshd_config"
        self.log = self.folder / "sshd.log"
        self.config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.folder / 'sshd.pid'}",
                    f"AuthorizedKeysFile {keys}/%u",
                    # The keys sit under /tmp (world-writable): StrictModes would refuse the path, not the key.
                    "StrictModes no",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "PermitRootLogin no",
                    f"AllowUsers {' '.join(users)}",
                    "PermitUserEnvironment no",
                    "X11Forwarding no",
                    "AllowTcpForwarding no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> None:
        sshd = which("sshd")
        assert sshd is not None
        # The privilege separation folder a packaged sshd expects (systemd's RuntimeDirectory makes it).
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        _run([sshd, "-t", "-f", str(self.config)])
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([sshd, "-D", "-e", "-f", str(self.config)], stderr=log, stdout=log)
        wait_for_text(self.log, "Server listening", self.process, timeout, "sshd")

    def stop(self) -> None:
        stop_process(self.process)


@dataclass(frozen=True)
class SshClient:
    """`ssh` to the test's sshd as one user: key only, no known_hosts, no system or user client config."""

    port: int
    key: Path

    def argv(self, user: str, command: Sequence[str], *, tty: bool = False) -> list[str]:
        options = ["-F", "/dev/null", "-p", str(self.port), "-i", str(self.key), "-o", "IdentitiesOnly=yes"]
        options += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"]
        options += ["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]
        return ["ssh", *(["-tt"] if tty else []), *options, f"{user}@127.0.0.1", shlex.join(command)]

    def run(self, user: str, command: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(user, command), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )


def make_client_key(folder: Path) -> tuple[Path, str]:
    """A fresh ed25519 key pair for the test (root's, 0600): its path and public line."""
    key = folder / "client_ed25519"
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "planner-tui ssh test", "-f", str(key)])
    return key, key.with_suffix(".pub").read_text()


# ---------------------------------------------------------------------------------------------- terminals


class Terminals:
    """A private tmux server: its own socket in the run folder and its own config (panes stay after their
    command ends, so a failure still shows what was on screen)."""

    def __init__(self, folder: Path, width: int = 120, height: int = 36):
        self.socket = folder / "tmux.sock"
        self.config = folder / "tmux.conf"
        self.config.write_text("set -g remain-on-exit on\nset -g status off\n")
        self.width, self.height = width, height

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        argv = ["tmux", "-S", str(self.socket), "-f", str(self.config), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        if check and done.returncode != 0:
            raise AssertionError(f"{shlex.join(argv)}: {done.stderr.strip()}")
        return done

    def open(self, name: str, argv: Sequence[str]) -> None:
        status = shlex.quote(str(self._status_file(name)))
        command = f'{shlex.join(argv)}; echo "exit $?" > {status}'  # a signal shows as exit 128+N
        self._tmux("new-session", "-d", "-s", name, "-x", str(self.width), "-y", str(self.height), command)

    def keys(self, name: str, *keys: str) -> None:
        self._tmux("send-keys", "-t", name, *keys)

    def screen(self, name: str) -> str:
        return self._tmux("capture-pane", "-p", "-t", name).stdout

    def ended(self, name: str) -> str | None:
        """'exit N' once the pane's command has ended, else None.

        Read from the file the pane's shell writes when its command returns, not from tmux's pane status:
        tmux 3.3 marks a pane dead when its terminal closes, before reaping the process, and, with two
        panes ending together, has been seen to leave one command a zombie for good (no status ever)."""
        try:
            return self._status_file(name).read_text().strip() or None
        except FileNotFoundError:
            return None

    def _status_file(self, name: str) -> Path:
        return self.socket.parent / f"{name}.exit"

    def wait_for(self, name: str, pattern: str, timeout: float = 20.0, *, what: str = "") -> str:
        """Poll the screen until the regex matches (multiline); the screen, or an AssertionError showing it."""
        wanted = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen(name)
            if wanted.search(shown):
                return shown
            ended = self.ended(name)
            if ended or time.monotonic() > deadline:
                why = f"the terminal's command ended ({ended})" if ended else f"not within {timeout:.0f} s"
                raise AssertionError(f"{name}: {what or pattern!r}: {why}; the screen:\n{shown}")
            time.sleep(0.1)

    def close(self) -> None:
        if self.socket.exists():
            self._tmux("kill-server", check=False)


# ---------------------------------------------------------------------------------------------- planner-tui


@dataclass(frozen=True)
class Launcher:
    path: Path  # an executable the users can run, taking planner-tui's arguments
    how: str  # which of user_launcher's ways it is
    seconds: float  # how long making it took


def _venv_version(venv: Path) -> str | None:
    config = venv / "pyvenv.cfg"
    if not config.exists():
        return None
    for line in config.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return ".".join(value.strip().split(".")[:2])
    return None


def _interpreters(venv: Path) -> list[str]:
    """Pythons to try, best first: the one the repository's venv was made from, then the system's."""
    found: list[str] = []
    config = venv / "pyvenv.cfg"
    if config.exists():
        for line in config.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "executable":
                found.append(value.strip())
    version = _venv_version(venv) or f"{sys.version_info[0]}.{sys.version_info[1]}"
    for folder in ("/usr/local/bin", "/usr/bin"):
        found += [f"{folder}/python{version}", f"{folder}/python3"]
    return [path for i, path in enumerate(found) if path not in found[:i] and os.path.exists(path)]


def _users_version(user: str, python: str) -> str | None:
    """The Python's major.minor when `user` can run it and it is 3.11 or later, else None."""
    try:
        done = as_user(user, [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    version = done.stdout.strip()
    if done.returncode != 0 or not re.fullmatch(r"3\.\d+", version) or int(version.split(".")[1]) < 11:
        return None
    return version


def _write_launcher(folder: Path, lines: Sequence[str], how: str, started: float) -> Launcher:
    path = folder / "planner-tui"
    path.write_text("#!/bin/sh\n" + "\n".join(lines) + "\n")
    path.chmod(0o755)
    return Launcher(path, how, time.monotonic() - started)


def _can_run(user: str, argv: Sequence[str]) -> bool:
    try:
        return as_user(user, argv, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _chmod_readable(root: Path) -> None:
    subprocess.run(["chmod", "-R", "a+rX", str(root)], check=True)


def _runtime_requirements(repo: Path) -> list[str]:
    with open(repo / "pyproject.toml", "rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def _shared_venv(repo: Path, python: str) -> Path:
    """A venv readable by all with planner-tui's runtime dependencies (not planner-tui itself), made once per
    interpreter and dependency list and kept under SHARED_VENVS for the next run."""
    requirements = _runtime_requirements(repo)
    key = hashlib.sha256("\n".join([os.path.realpath(python), *requirements]).encode()).hexdigest()[:12]
    venv = SHARED_VENVS / f"venv-{key}"
    if (venv / "complete").exists():
        return venv
    SHARED_VENVS.mkdir(mode=0o755, parents=True, exist_ok=True)
    SHARED_VENVS.chmod(0o755)
    building = Path(tempfile.mkdtemp(prefix=f"venv-{key}-", dir=SHARED_VENVS))
    try:
        _run([python, "-m", "venv", "--without-pip", "--clear", str(building)])
        # The test's own pip installs into it (the Python the users run may have no pip or ensurepip).
        pip = [sys.executable, "-m", "pip", "--python", str(building / "bin" / "python"), "install", "-q"]
        done = subprocess.run([*pip, *requirements], capture_output=True, text=True)
        if done.returncode != 0:
            raise CannotRun(f"cannot install planner-tui's dependencies for the test users: {done.stderr[-500:]}")
        (building / "complete").write_text("\n".join(requirements) + "\n")
        _chmod_readable(building)
        shutil.rmtree(venv, ignore_errors=True)
        building.rename(venv)  # made under its final name's folder: the paths inside it stay right
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return venv


def user_launcher(repo: Path, folder: Path, user: str, *, fresh: bool = False) -> Launcher:
    """A `planner-tui` the test users can run, in `folder/bin`, running the repository's code. The first way
    that works, cheapest first (each is checked by importing the client as `user`):

    1. the repository's own `.venv/bin/python` (the checkout and the Python its venv was made from are
       readable by everyone): no copy, ~0.3 s;
    2. a Python the users can run of the same major.minor (the system's `python3.X`, when the repository's
       venv was made from a root-only one such as pyenv under /root): a venv of it without pip in the run
       folder whose `.pth` adds the repository venv's site-packages (so its editable planner_tui too), when
       those are readable: 1-3 s, mostly the import check;
    3. else (the checkout itself is root-only, or no Python of that version): a venv of any Python 3.11+ the
       users can run, with the runtime dependencies from pyproject.toml installed by pip (from pip's cache or
       the registry; kept in SHARED_VENVS and reused while the interpreter and dependencies are the same:
       about 20 s the first time, 0.4 s after), plus a copy of `planner_tui/` in the run folder first on
       PYTHONPATH, so the code tested is the checkout's as it is now.

    `fresh` skips 1 and 2 (to try the third way on a machine where they work)."""
    started = time.monotonic()
    bin_folder = folder / "bin"
    bin_folder.mkdir(mode=0o755, exist_ok=True)
    venv = repo / ".venv"
    own = venv / "bin" / "python"
    if not fresh and own.exists() and _can_run(user, [str(own), "-c", PROBE]):
        return _write_launcher(
            bin_folder, [f'exec {shlex.quote(str(own))} -m planner_tui "$@"'], "1: repo venv", started
        )
    wanted = _venv_version(venv)
    tried: list[str] = []
    usable: list[tuple[str, str]] = []
    for candidate in _interpreters(venv):
        tried.append(candidate)
        version = _users_version(user, candidate)
        if version is not None:
            usable.append((candidate, version))
            if version == wanted:
                break
    if not usable:
        raise CannotRun(f"no Python 3.11+ the test users can run (tried {', '.join(tried) or 'none'})")
    same = [python for python, version in usable if version == wanted]
    site_packages = venv / "lib" / f"python{wanted}" / "site-packages"
    if not fresh and same and site_packages.is_dir():
        light = folder / "venv"
        _run([same[0], "-m", "venv", "--without-pip", str(light)])
        (light / "lib" / f"python{wanted}" / "site-packages" / "repo-venv.pth").write_text(
            f"import site; site.addsitedir({str(site_packages)!r})\n"
        )
        _chmod_readable(light)
        light_python = light / "bin" / "python"
        if _can_run(user, [str(light_python), "-c", PROBE]):
            how = f"2: venv of {same[0]} over the repo venv's site-packages"
            line = f'exec {shlex.quote(str(light_python))} -m planner_tui "$@"'
            return _write_launcher(bin_folder, [line], how, started)
        shutil.rmtree(light)
    python_path = same[0] if same else usable[0][0]
    shared = _shared_venv(repo, python_path)
    source = folder / "src"
    shutil.copytree(repo / "planner_tui", source / "planner_tui", ignore=shutil.ignore_patterns("__pycache__"))
    _chmod_readable(source)
    lines = [
        f"PYTHONPATH={shlex.quote(str(source))}; export PYTHONPATH",
        f'exec {shlex.quote(str(shared / "bin" / "python"))} -m planner_tui "$@"',
    ]
    launcher = _write_launcher(bin_folder, lines, f"3: shared venv {shared} + a copy of planner_tui", started)
    probe = as_user(user, [str(launcher.path), "--version"])
    if probe.returncode != 0:
        raise AssertionError(f"the test users cannot run {launcher.path}: {probe.stderr.strip()}")
    return launcher
