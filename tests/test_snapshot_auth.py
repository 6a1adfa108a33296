"""Snapshot and feed sources that need credentials (issue 13, item 5), against real servers on loopback:
a bearer token, basic auth, mTLS with a throwaway CA (trustme), and snapshot downloads retried through
a server that answers 503 for a while. The credentials come from a settings file, never a flag."""

from __future__ import annotations

import base64
import functools
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme
from eventkit import ce, plant
from typer.testing import CliRunner

from planner_tui.cli import app
from planner_tui.store import Store, sources

runner = CliRunner()
TOKEN = "tok-5ecret-bearer-0042"
PASSWORD = "pw-5ecret-basic-0042"


class _Files(SimpleHTTPRequestHandler):
    """Serves a folder; subclasses say who may read it."""

    def log_message(self, *args) -> None:
        pass

    def allowed(self) -> bool:
        return True

    def do_GET(self) -> None:
        if not self.allowed():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer realm="snapshots"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


class _NeedsBearer(_Files):
    def allowed(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {TOKEN}" and self.headers.get("X-Plant") == "north"


class _NeedsBasic(_Files):
    def allowed(self) -> bool:
        expected = "Basic " + base64.b64encode(f"planner:{PASSWORD}".encode()).decode()
        return self.headers.get("Authorization") == expected


class _Flaky(_Files):
    """503 for the first `failures` requests (every path counted), then the files."""

    failures: ClassVar[int] = 2
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        if len(type(self).seen) <= type(self).failures:
            self.send_response(503, "Service Unavailable")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


class _TLSServer(ThreadingHTTPServer):
    """HTTPS, the handshake made in the request's thread (a stalled client never blocks the others)."""

    daemon_threads = True

    def __init__(self, address, handler, context: ssl.SSLContext):
        super().__init__(address, handler)
        self.context = context

    def finish_request(self, request, client_address) -> None:
        try:
            wrapped = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client without the certificate: refused in the handshake
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()


@contextmanager
def serve(folder: Path, handler: type = _Files, context: ssl.SSLContext | None = None) -> Iterator[str]:
    bound = functools.partial(handler, directory=str(folder))
    server = _TLSServer(("127.0.0.1", 0), bound, context) if context else ThreadingHTTPServer(("127.0.0.1", 0), bound)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def settings_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "planner.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(url: str, db: Path, config: Path | None = None):
    args = ["load", url, "--db", str(db)]
    if config is not None:
        args = ["--config", str(config), *args]
    return runner.invoke(app, args)


def machines(db: Path) -> int:
    with Store.open(db, read_only=True) as store:
        return store.con.execute("SELECT count(*) FROM machines").fetchall()[0][0]


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch):
    # The retries are real; only the wait between them is shortened, so the suite stays fast.
    monkeypatch.setattr(sources, "RETRY_BACKOFF", 0.05)


# --- bearer token and headers ------------------------------------------------------------------------


def test_a_snapshot_behind_a_bearer_token_needs_the_credentials_setting(sample_dir, tmp_path, monkeypatch):
    db = tmp_path / "plant.duckdb"
    with serve(sample_dir, _NeedsBearer) as url:
        refused = load(url, db)
        assert refused.exit_code == 1, refused.output
        assert "401" in refused.output and "credentials are missing" in refused.output
        assert "[[credentials]]" in refused.output and url in refused.output, refused.output
        assert "Traceback" not in refused.output and len(refused.output.strip().splitlines()) == 1

        config = settings_file(
            tmp_path,
            f'[[credentials]]\nurl = "{url}"\nbearer = "${{SNAP_TOKEN}}"\nheaders = {{ "X-Plant" = "north" }}\n',
        )
        unset = load(url, db, config)
        assert unset.exit_code != 0 and "SNAP_TOKEN is not set" in unset.output, unset.output
        assert "credentials[0].bearer" in unset.output and "Traceback" not in unset.output

        monkeypatch.setenv("SNAP_TOKEN", "not-the-token")
        wrong = load(url, db, config)
        assert wrong.exit_code == 1 and "credentials[0]" in wrong.output and "refused" in wrong.output, wrong.output
        assert "not-the-token" not in wrong.output

        monkeypatch.setenv("SNAP_TOKEN", TOKEN)
        loaded = load(url, db, config)
    assert loaded.exit_code == 0, loaded.output
    assert TOKEN not in loaded.output and machines(db) > 0


def test_a_snapshot_behind_basic_auth_loads_with_username_and_password(sample_dir, tmp_path, monkeypatch):
    db = tmp_path / "plant.duckdb"
    monkeypatch.setenv("SNAP_PASSWORD", PASSWORD)
    with serve(sample_dir, _NeedsBasic) as url:
        config = settings_file(
            tmp_path, f'[[credentials]]\nurl = "{url}"\nusername = "planner"\npassword = "${{SNAP_PASSWORD}}"\n'
        )
        assert load(url, db).exit_code == 1
        loaded = load(url, db, config)
    assert loaded.exit_code == 0, loaded.output
    assert machines(db) > 0 and PASSWORD not in loaded.output


def test_the_longest_prefix_is_the_one_sent(sample_dir, tmp_path, monkeypatch):
    db = tmp_path / "plant.duckdb"
    monkeypatch.setenv("SNAP_TOKEN", TOKEN)
    with serve(sample_dir.parent, _NeedsBearer) as root:
        config = settings_file(
            tmp_path,
            f'[[credentials]]\nurl = "{root}"\nbearer = "wrong-token"\n'
            f'[[credentials]]\nurl = "{root}plant"\nbearer = "${{SNAP_TOKEN}}"\nheaders = {{ "X-Plant" = "north" }}\n',
        )
        loaded = load(root + "plant/", db, config)
    assert loaded.exit_code == 0, loaded.output


# --- retries -----------------------------------------------------------------------------------------


def test_a_server_answering_503_for_a_while_is_tried_again(sample_dir, tmp_path):
    _Flaky.failures, _Flaky.seen = 2, []
    db = tmp_path / "plant.duckdb"
    with serve(sample_dir, _Flaky) as url:
        loaded = load(url, db)
    assert loaded.exit_code == 0, loaded.output
    first = _Flaky.seen[0]  # the same file asked three times: two 503s, then the answer
    assert first.startswith("/machines.") and _Flaky.seen[:3] == [first] * 3 and machines(db) > 0


def test_a_server_that_always_answers_503_fails_saying_how_many_attempts(sample_dir, tmp_path):
    _Flaky.failures, _Flaky.seen = 1_000_000, []
    with serve(sample_dir, _Flaky) as url:
        failed = load(url, tmp_path / "plant.duckdb")
    assert failed.exit_code == 1, failed.output
    assert f"503 Service Unavailable for {url}machines." in failed.output, failed.output
    assert "(3 attempts)" in failed.output and len(failed.output.strip().splitlines()) == 1
    assert len(_Flaky.seen) == sources.RETRY_ATTEMPTS and "Traceback" not in failed.output


class _RateLimited(_Files):
    """429 with Retry-After: `wait` for the first request, then the files."""

    wait: ClassVar[str] = "0"
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        if len(type(self).seen) == 1:
            self.send_response(429, "Too Many Requests")
            self.send_header("Retry-After", type(self).wait)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


def test_a_rate_limit_is_waited_out_when_it_asks_for_little_and_reported_when_it_asks_for_much(sample_dir, tmp_path):
    _RateLimited.wait, _RateLimited.seen = "0", []
    with serve(sample_dir, _RateLimited) as url:
        loaded = load(url, tmp_path / "plant.duckdb")
    assert loaded.exit_code == 0, loaded.output
    _RateLimited.wait, _RateLimited.seen = "3600", []
    with serve(sample_dir, _RateLimited) as url:
        failed = load(url, tmp_path / "other.duckdb")
    assert failed.exit_code == 1 and "429 Too Many Requests" in failed.output, failed.output
    assert "come back in 3600 s (1 attempt)" in failed.output and len(_RateLimited.seen) == 1


# --- mTLS --------------------------------------------------------------------------------------------


@pytest.fixture
def mtls(tmp_path: Path):
    """A CA, a server certificate for 127.0.0.1, a client certificate; the server requires one it signed."""
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("planner@plant.example")
    certs = tmp_path / "certs"
    certs.mkdir()
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    client_cert.cert_chain_pems[0].write_to_path(str(certs / "planner.pem"))
    client_cert.private_key_pem.write_to_path(str(certs / "planner.key"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def test_a_snapshot_behind_mtls_needs_the_client_certificate(sample_dir, tmp_path, mtls):
    db = tmp_path / "plant.duckdb"
    with serve(sample_dir, context=mtls) as url:
        untrusted = load(url, db)
        assert untrusted.exit_code == 1 and "does not trust" in untrusted.output, untrusted.output
        assert "set ca" in untrusted.output and "Traceback" not in untrusted.output

        only_ca = settings_file(tmp_path, f'[[credentials]]\nurl = "{url}"\nca = "certs/ca.pem"\n')
        refused = load(url, db, only_ca)
        assert refused.exit_code == 1, refused.output
        assert "client certificate" in refused.output and "client_cert" in refused.output, refused.output
        assert "credentials[0]" in refused.output and "Traceback" not in refused.output

        both = settings_file(
            tmp_path,
            f'[[credentials]]\nurl = "{url}"\nca = "certs/ca.pem"\n'
            'client_cert = "certs/planner.pem"\nclient_key = "certs/planner.key"\n',
        )
        loaded = load(url, db, both)
    assert loaded.exit_code == 0, loaded.output
    assert machines(db) > 0


# --- an HTTP feed ------------------------------------------------------------------------------------


class _BearerFeed(_Files):
    """A CloudEvents batch feed (`?after=`) that answers only the bearer token."""

    events: ClassVar[list[dict]] = []

    def allowed(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {TOKEN}"

    def do_GET(self) -> None:
        if not self.allowed():
            return super().do_GET()  # 401
        after = parse_qs(urlsplit(self.path).query).get("after", ["0"])[0]
        page = [e for e in self.events if e["sequence"] > int(after)]
        body = json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/cloudevents-batch+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_an_http_feed_sends_the_bearer_token_from_the_settings(tmp_path, monkeypatch):
    db = tmp_path / "plant.db"
    plant(Store.open(db)).close()
    _BearerFeed.events = [ce("e1", "machine.down", {"machine_id": "M1"}, seq=1)]
    monkeypatch.setenv("FEED_TOKEN", TOKEN)
    with serve(tmp_path, _BearerFeed) as url:
        feed = url + "events"
        config = settings_file(tmp_path, f'[[credentials]]\nurl = "{url}"\nbearer = "${{FEED_TOKEN}}"\n')
        pulled = runner.invoke(app, ["--config", str(config), "events", "pull", feed, "--db", str(db), "--json"])
    assert pulled.exit_code == 0, pulled.output
    assert json.loads(pulled.output)["result"]["applied"] == 1
    assert TOKEN not in pulled.output
