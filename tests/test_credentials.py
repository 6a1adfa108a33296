"""The `credentials` setting (issue 13, item 5): what a settings file may say, the one-line errors for what
it may not, which entry a URL gets (the longest prefix), `${NAME}` read only when a connection is made,
and `config show` never printing a secret."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
import trustme
from typer.testing import CliRunner

from planner_tui import credentials, settings
from planner_tui.cli import app
from planner_tui.credentials import Credential
from planner_tui.errors import PlannerError
from planner_tui.settings import SettingsError

runner = CliRunner()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "planner.toml"
    path.write_text(text, encoding="utf-8")
    return path


def parsed(tmp_path: Path, text: str) -> tuple[Credential, ...]:
    return settings.load(config=write(tmp_path, text), env={}).credentials


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    folder = tmp_path / "certs"
    folder.mkdir()
    ca = trustme.CA()
    client = ca.issue_cert("planner@plant.example")
    ca.cert_pem.write_to_path(str(folder / "plant-ca.pem"))
    client.cert_chain_pems[0].write_to_path(str(folder / "planner.pem"))
    client.private_key_pem.write_to_path(str(folder / "planner.key"))
    return folder


# --- what the file may say ---------------------------------------------------------------------------


def test_the_documented_example_parses_with_paths_beside_the_settings_file(tmp_path, certs):
    found = parsed(
        tmp_path,
        """
[[credentials]]
url = "https://mes.plant.example/events"
bearer = "${MES_TOKEN}"
[[credentials]]
url = "https://erp.plant.example/"
username = "planner"
password = "${ERP_PASSWORD}"
headers = { "X-Plant" = "north" }
[[credentials]]
url = "mqtts://broker.plant.example:8883/"
client_cert = "certs/planner.pem"
client_key = "certs/planner.key"
ca = "certs/plant-ca.pem"
""",
    )
    mes, erp, broker = found
    assert mes.bearer == "${MES_TOKEN}" and mes.place == "credentials[0]"  # not read yet: MES_TOKEN is unset
    assert (erp.username, erp.password, dict(erp.headers)) == ("planner", "${ERP_PASSWORD}", {"X-Plant": "north"})
    assert broker.client_cert == certs / "planner.pem" and broker.ca == certs / "plant-ca.pem"
    assert broker.client_cert.is_absolute()


BAD = [
    ('credentials = "https://x/"', "credentials", "expected [[credentials]] tables", "'https://x/'"),
    (
        '[[credentials]]\nurl = "https://x/"\ntoken = "s3cret-literal"',
        "credentials[0].token",
        "did you mean 'bearer'?",
        "***",
    ),
    ('[[credentials]]\nbearer = "${T}"', "credentials[0].url", "missing", "a table"),
    ('[[credentials]]\nurl = "mes.plant.example/events"\nbearer = "${T}"', "credentials[0].url", "absolute URL", "mes"),
    ('[[credentials]]\nurl = "ftp://files.example/"\nbearer = "${T}"', "credentials[0].url", "mqtts", "ftp://"),
    ('[[credentials]]\nurl = "https://u:pw@x.example/"', "credentials[0].url", "as username and password", "***@x"),
    ('[[credentials]]\nurl = "https://x.example/?a=1"', "credentials[0].url", "without ? or #", "?a=1"),
    (
        '[[credentials]]\nurl = "https://x.example/"\n[[credentials]]\nurl = "HTTPS://X.example:443/"',
        "credentials[1].url",
        "the same url as credentials[0]",
        "X.example:443/",
    ),
    (
        '[[credentials]]\nurl = "https://x.example/"\nbearer = "s3cret-literal"\nusername = "u"',
        "credentials[0].bearer",
        "either bearer or username",
        "'***'",
    ),
    (
        '[[credentials]]\nurl = "https://x.example/"\npassword = "${PW}"',
        "credentials[0].password",
        "needs a username",
        "${PW}",
    ),
    (
        '[[credentials]]\nurl = "https://x.example/"\nclient_cert = "certs/nope.pem"',
        "credentials[0].client_cert",
        "no such file: ",
        "certs/nope.pem",
    ),
    (
        '[[credentials]]\nurl = "http://x.example/"\nca = "certs/plant-ca.pem"',
        "credentials[0].ca",
        "certificates need TLS",
        "certs/plant-ca.pem",
    ),
    (
        '[[credentials]]\nurl = "https://x.example/"\nclient_key = "certs/planner.key"',
        "credentials[0].client_key",
        "needs client_cert",
        "planner.key",
    ),
    (
        '[[credentials]]\nurl = "https://x.example/"\nheaders = { "X-Plant" = 3 }',
        "credentials[0].headers.X-Plant",
        "expected the value as a string",
        "got 3",
    ),
    (
        '[[credentials]]\nurl = "https://x.example/"\nheaders = { "X Plant" = "north" }',
        "credentials[0].headers.X Plant",
        "not a valid header name",
        "X Plant",
    ),
    (
        '[[credentials]]\nurl = "mqtts://broker.example:8883/"\nbearer = "${T}"',
        "credentials[0].bearer",
        "MQTT has no bearer tokens",
        "${T}",
    ),
    (
        '[[credentials]]\nurl = "https://x.example/"\nbearer = "${T}"\nheaders = { Authorization = "Basic x" }',
        "credentials[0].headers",
        "an Authorization header beside bearer",
        "a table",
    ),
]


@pytest.mark.parametrize(("text", "key", "why", "shown"), BAD, ids=[case[1] + ":" + case[2] for case in BAD])
def test_a_bad_entry_is_one_line_naming_the_file_the_key_and_the_value(tmp_path, certs, text, key, why, shown):
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        settings.load(config=path, env={})
    message = str(caught.value)
    assert message.startswith(f"{path}: key {key!r}: "), message
    assert why in message and shown in message and "\n" not in message, message
    assert "s3cret-literal" not in message and "pw@" not in message


def test_a_missing_certificate_file_is_named_where_it_was_looked_for(tmp_path):
    path = write(tmp_path, '[[credentials]]\nurl = "https://x.example/"\nca = "certs/plant-ca.pem"')
    with pytest.raises(SettingsError, match=f"no such file: {tmp_path / 'certs' / 'plant-ca.pem'}"):
        settings.load(config=path, env={})


def test_the_command_line_says_a_bad_entry_and_exits_2(tmp_path):
    path = write(tmp_path, '[[credentials]]\nurl = "https://x.example/"\nbearer = "tok en"')
    result = runner.invoke(app, ["--config", str(path), "config", "show"])
    assert result.exit_code == 2
    assert (
        "credentials[0].bearer" in result.output and "tok en" not in result.output and "Traceback" not in result.output
    )


# --- which entry a URL gets --------------------------------------------------------------------------

ENTRIES = (
    Credential(url="https://mes.plant.example/", bearer="site"),
    Credential(url="https://mes.plant.example/events", bearer="events"),
    Credential(url="https://mes.plant.example/events/line1", bearer="line1"),
    Credential(url="mqtts://broker.plant.example/", username="planner", password="pw"),
)


@pytest.mark.parametrize(
    ("url", "bearer"),
    [
        ("https://mes.plant.example/events?after=3", "events"),
        ("https://mes.plant.example/events/line1/page2", "line1"),
        ("https://mes.plant.example/snapshots/", "site"),
        ("HTTPS://MES.Plant.Example:443/events", "events"),  # scheme and host in any case, the default port
        ("https://ana:pw@mes.plant.example/events", "events"),  # a user in the URL does not change the server
        ("https://mes.plant.example", "site"),
        ("http://mes.plant.example/events", None),  # another scheme is another server
        ("https://mes.plant.example:8443/events", None),
        ("https://mes.plant.example.evil.example/events", None),  # a prefix of the host is not the host
        ("https://evil.example/https://mes.plant.example/events", None),
        ("not a url", None),
    ],
)
def test_the_longest_matching_prefix_wins(url, bearer):
    found = credentials.for_url(url, ENTRIES)
    assert (found.bearer if found else None) == bearer


def test_mqtt_urls_match_their_broker_whatever_the_topic_filter():
    found = credentials.for_url("mqtts://broker.plant.example:8883/plant/+/state/#", ENTRIES)
    assert found is not None and found.username == "planner"
    assert credentials.for_url("mqtt://broker.plant.example/plant/#", ENTRIES) is None


def test_for_url_reads_the_settings_in_force(tmp_path):
    settings.use(settings.load(config=write(tmp_path, '[[credentials]]\nurl = "https://x.example/"\nbearer = "t"')))
    try:
        assert credentials.for_url("https://x.example/a").bearer == "t"
        assert credentials.httpx_options("https://y.example/") == {}
    finally:
        settings.use(None)


# --- ${NAME}: read when a connection is made ---------------------------------------------------------


def test_references_are_read_from_the_environment_only_when_resolved(tmp_path, monkeypatch):
    monkeypatch.delenv("ERP_PASSWORD", raising=False)
    path = write(
        tmp_path,
        '[[credentials]]\nurl = "https://erp.plant.example/"\nusername = "planner"\npassword = "${ERP_PASSWORD}"\n'
        'headers = { "X-Api-Key" = "${ERP_KEY}", "X-Plant" = "north" }\n',
    )
    entries = settings.load(config=path).credentials  # parsing needs no variable
    settings.use(settings.load(config=path))
    try:
        with pytest.raises(PlannerError) as caught:
            credentials.for_url("https://erp.plant.example/snap/")
        message = str(caught.value)
        assert "credentials[0].password" in message and "ERP_PASSWORD is not set" in message, message
        assert str(path) in message and "\n" not in message

        monkeypatch.setenv("ERP_PASSWORD", "pw-from-env")
        monkeypatch.setenv("ERP_KEY", "key-from-env")
        found = credentials.for_url("https://erp.plant.example/snap/")
        assert found.password == "pw-from-env" and found.headers == {"X-Api-Key": "key-from-env", "X-Plant": "north"}
        assert entries[0].password == "${ERP_PASSWORD}"  # the parsed setting keeps the reference

        monkeypatch.setenv("ERP_KEY", "evil\r\nX-Injected: 1")
        with pytest.raises(PlannerError, match=r"headers\.X-Api-Key .*line break") as caught:
            credentials.for_url("https://erp.plant.example/snap/")
        assert "evil" not in str(caught.value)
    finally:
        settings.use(None)


def test_httpx_options_hold_only_what_applies(tmp_path, certs, monkeypatch):
    monkeypatch.setenv("MES_TOKEN", "tok-123")
    entries = (
        Credential(url="https://mes.plant.example/", bearer="${MES_TOKEN}", headers={"X-Plant": "north"}),
        Credential(url="https://erp.plant.example/", username="planner", password="pw"),
        Credential(
            url="https://secure.plant.example/",
            client_cert=certs / "planner.pem",
            client_key=certs / "planner.key",
            ca=certs / "plant-ca.pem",
        ),
    )
    mes = credentials.httpx_options("https://mes.plant.example/events", entries)
    assert mes["headers"] == {"X-Plant": "north", "Authorization": "Bearer tok-123"}
    assert set(mes) == {"headers", "event_hooks"}
    erp = credentials.httpx_options("https://erp.plant.example/", entries)
    assert set(erp) == {"auth"} and isinstance(erp["auth"], httpx.BasicAuth)
    secure = credentials.httpx_options("https://secure.plant.example/", entries)
    assert set(secure) == {"verify"} and isinstance(secure["verify"], ssl.SSLContext)
    assert credentials.httpx_options("https://elsewhere.example/", entries) == {}
    with httpx.Client(**secure):  # httpx takes them as they are
        pass


def test_an_unusable_client_certificate_is_one_line_naming_the_entry(tmp_path, certs):
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    entry = Credential(url="https://secure.plant.example/", client_cert=not_pem, place="credentials[3]")
    with pytest.raises(PlannerError) as caught:
        credentials.httpx_options("https://secure.plant.example/x", (entry,))
    message = str(caught.value)
    assert message.startswith("credentials[3] (for https://secure.plant.example/)") and str(not_pem) in message


# --- headers stay with their server ------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict]] = []
    redirect_to: ClassVar[str | None] = None

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers))
        if self.redirect_to and self.path == "/start":
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@contextmanager
def recorder() -> Iterator[tuple[type[_Recorder], str]]:
    handler = type("Recorder", (_Recorder,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_redirect_to_another_server_does_not_take_the_headers_along():
    with recorder() as (other, other_url), recorder() as (own, own_url):
        own.redirect_to = other_url + "/landed"
        entry = Credential(url=own_url + "/", bearer="tok-1", headers={"X-Api-Key": "key-1", "X-Plant": "north"})
        with httpx.Client(follow_redirects=True, **credentials.httpx_options(own_url + "/start", (entry,))) as client:
            assert client.get(own_url + "/start").status_code == 200
    assert own.seen[0]["X-Api-Key"] == "key-1" and own.seen[0]["Authorization"] == "Bearer tok-1"
    landed = {name.lower() for name in other.seen[0]}
    assert not landed & {"x-api-key", "x-plant", "authorization"}, other.seen[0]


# --- config show -------------------------------------------------------------------------------------


def test_config_show_masks_every_secret_but_shows_references(tmp_path, certs):
    path = write(
        tmp_path,
        """
[[credentials]]
url = "https://mes.plant.example/events"
bearer = "literal-bearer-secret"
headers = { "X-Plant" = "north", "X-Api-Key" = "literal-key-secret", "Authorization-Extra" = "Token ${EXTRA}" }
[[credentials]]
url = "https://erp.plant.example/"
username = "planner"
password = "${ERP_PASSWORD}"
[[credentials]]
url = "mqtts://broker.plant.example:8883/"
username = "gateway"
password = "literal-password-secret"
client_cert = "certs/planner.pem"
client_key = "certs/planner.key"
ca = "certs/plant-ca.pem"
""",
    )
    result = runner.invoke(app, ["--config", str(path), "config", "show", "--json"])
    assert result.exit_code == 0, result.output
    for secret in ("literal-bearer-secret", "literal-key-secret", "literal-password-secret"):
        assert secret not in result.output
    shown = json.loads(result.output)["settings"]["credentials"]
    assert shown["source"] == f"file:{path}"
    mes, erp, broker = shown["value"]
    assert mes == {
        "url": "https://mes.plant.example/events",
        "bearer": "***",
        "headers": {"X-Plant": "north", "X-Api-Key": "***", "Authorization-Extra": "Token ${EXTRA}"},
    }
    assert erp == {"url": "https://erp.plant.example/", "username": "planner", "password": "${ERP_PASSWORD}"}
    assert broker["password"] == "***" and broker["client_cert"] == str(certs / "planner.pem")
    text = runner.invoke(app, ["--config", str(path), "config", "show"])
    assert text.exit_code == 0 and "literal-bearer-secret" not in text.output and "${ERP_PASSWORD}" in text.output


def test_a_reference_beside_a_literal_secret_is_masked():
    entry = Credential(url="https://x.example/", headers={"X-Token": "abc123${SUFFIX}"}, bearer="${A}${B}")
    assert credentials.shown((entry,)) == [
        {"url": "https://x.example/", "bearer": "${A}${B}", "headers": {"X-Token": "***"}}
    ]
