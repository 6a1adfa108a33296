"""A real MQTT broker for tests and benchmarks: Debian's mosquitto 2 (MQTT 5, persistent sessions).

- `tools_reason()`: why there is no mosquitto (None when /usr/sbin/mosquitto is there, installed with apt-get
  once when missing, as .ci/run does).
- `Broker`: a mosquitto of our own on a free loopback port, its config and log in a folder of its own;
  nothing under /etc/mosquitto is read and no service is touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MOSQUITTO = "/usr/sbin/mosquitto"
_tried_install = False


def which() -> str | None:
    return MOSQUITTO if os.access(MOSQUITTO, os.X_OK) else shutil.which("mosquitto")


def tools_reason() -> str | None:
    """None when mosquitto is there; else install it (as root, with apt-get, once per run) or say why not."""
    global _tried_install
    if which() is not None:
        return None
    if os.geteuid() != 0:
        return "mosquitto is not installed and installing it needs root"
    if shutil.which("apt-get") is None:
        return "mosquitto is not installed and there is no apt-get to install it"
    if _tried_install:
        return "mosquitto could not be installed (tried once in this run)"
    _tried_install = True
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "mosquitto"]
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    if done.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, text=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
    if which() is None:
        return f"cannot install mosquitto: {done.stderr.strip()[-300:] or 'apt-get failed'}"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """mosquitto on 127.0.0.1:`port`, anonymous, in memory (sessions live as long as the broker)."""

    def __init__(
        self,
        folder: Path | None = None,
        *,
        port: int | None = None,
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path, Path] | None = None,
    ):
        """`users` (name -> password): only they may connect; `tls` (certificate, key, CA): an mqtts listener
        that also asks for a client certificate signed by the CA."""
        self.folder = Path(folder or tempfile.mkdtemp(prefix="ptui-mqtt-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.users = users or {}
        self.tls = tls
        self.process: subprocess.Popen | None = None
        self.config = self.folder / "mosquitto.conf"
        self.log = self.folder / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> Broker:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            # Every message of a consumer that is away is kept for it (the default caps the queue at 1000).
            "max_queued_messages 0",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to the mosquitto user, who cannot read our folder
        if self.users:
            passwords = self.folder / "passwords"
            passwords.write_text("")
            for name, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), name, password], check=True)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            cert, key, ca = self.tls
            lines += [f"certfile {cert}", f"keyfile {key}", f"cafile {ca}", "require_certificate true"]
        self.config.write_text("\n".join(lines) + "\n")
        binary = which()
        assert binary is not None, "mosquitto is not installed (call tools_reason() first)"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [binary, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited ({self.process.returncode}): {self.log.read_text()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on 127.0.0.1:{self.port} within {timeout:g} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
