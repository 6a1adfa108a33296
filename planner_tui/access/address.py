"""Where a plant server listens and a client connects: `unix:PATH`, `tcp:HOST:PORT`, or a URL.

- `unix:/run/planner-tui/plant.sock` (or just an absolute path): the Unix socket; who connects is known
  from the kernel (peer credentials), no token needed.
- `tcp:HOST:PORT`: plain HTTP, meant for loopback; `https://HOST:PORT` (or `tls:HOST:PORT`): TLS. A
  client on TCP sends its bearer token.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from planner_tui.errors import BadRequest


@dataclass(frozen=True)
class Address:
    kind: str  # unix | tcp
    path: str | None = None  # the socket file, for unix
    host: str | None = None
    port: int | None = None
    tls: bool = False

    @property
    def _host_port(self) -> str:
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        if self.kind == "unix":
            return "http://planner-tui"  # the host is not used over a Unix socket
        return f"{'https' if self.tls else 'http'}://{self._host_port}"

    def __str__(self) -> str:
        if self.kind == "unix":
            return f"unix:{self.path}"
        return self.base_url if self.tls else f"tcp:{self._host_port}"


_EXPECTED = "expected unix:PATH, tcp:HOST:PORT or https://HOST:PORT"


def parse_address(text: str, *, what: str = "server address") -> Address:
    raw = (text or "").strip()
    if raw.startswith("unix:") or raw.startswith("/"):
        path = raw[5:] if raw.startswith("unix:") else raw
        if path.startswith("//"):  # unix:///run/x.sock
            path = path[2:]
        if not path:
            raise BadRequest(f"{what} {text!r}: the socket path is missing ({_EXPECTED})")
        return Address("unix", path=path)
    if raw.startswith(("tcp:", "tls:")) and "//" not in raw[:6]:
        host, _, port_text = raw[4:].rpartition(":")
        return Address(
            "tcp", host=host.strip("[]") or "127.0.0.1", port=_port(port_text, text, what), tls=raw.startswith("tls:")
        )
    if raw.startswith(("http://", "https://")):
        parts = urlsplit(raw)
        if not parts.hostname:
            raise BadRequest(f"{what} {text!r}: no host ({_EXPECTED})")
        try:
            port = parts.port
        except ValueError:
            raise BadRequest(f"{what} {text!r}: bad port ({_EXPECTED})") from None
        tls = parts.scheme == "https"
        return Address("tcp", host=parts.hostname, port=port or (443 if tls else 80), tls=tls)
    raise BadRequest(f"{what} {text!r}: {_EXPECTED}")


def _port(text: str, whole: str, what: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise BadRequest(f"{what} {whole!r}: the port must be a number ({_EXPECTED})") from None
    if not 0 <= port <= 65535:
        raise BadRequest(f"{what} {whole!r}: the port must be 0-65535")
    return port
