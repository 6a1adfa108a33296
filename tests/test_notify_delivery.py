"""Notifications delivered (issue 12): the plant server's sender and notifier against real receivers on
loopback (tests/receivers.py: an aiosmtpd SMTP server and an HTTP webhook), no mocks.

The first tests drive the sender in-process over outbox rows written with `outbox.record`; the rest run a
real `planner-tui serve` over the sample plant's snapshot, following the morning's feed (its events
restamped to now, as the demo's feed server does, since the server plans at the real clock), with a
settings file that points the plant's people at the receivers.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import serverkit
from plantkit import freshen
from receivers import SmtpReceiver, WebhookReceiver, free_port, subject_of, text_of

from planner_tui import routing as routing_mod
from planner_tui.server.core import PlantServer
from planner_tui.server.deliver import DeliveryFailed, deliver, renders_markdown, with_key
from planner_tui.server.notifier import Notifier
from planner_tui.store import Store, outbox
from planner_tui.timeutil import utcnow

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
STOP = "machine_down:M-WELD-01"
WAIT = 60.0  # generous: a loaded CI machine, two workers


# ------------------------------------------------------------------------------------------ helpers


def cfg(**tables: object) -> routing_mod.Routing:
    return routing_mod.parse(tables.get("people"), tables.get("teams"), tables.get("routing"))


def planned(exception_id: str, person: str, channels: tuple[str, ...], *, revision: int = 1) -> outbox.Planned:
    return outbox.Planned(
        exception_id,
        person,
        "new",
        "machine supervisor",
        f"[CRITICAL] {exception_id} for {person}",
        f"plain text for {person}\n- a line",
        f"**markdown** for {person}\n- a line",
        channels,
        revision,
    )


def outbox_rows(store_or_db: Store | Path) -> list[dict]:
    sql = "SELECT * FROM notify_outbox ORDER BY created_at, message_key"
    if isinstance(store_or_db, Store):
        cur = store_or_db.cursor()
        try:
            result = cur.execute(sql)
            names = [d[0] for d in result.description]
            return [dict(zip(names, r)) for r in result.fetchall()]
        finally:
            cur.close()
    con = duckdb.connect(str(store_or_db), read_only=True)
    try:
        result = con.execute(sql)
        names = [d[0] for d in result.description]
        return [dict(zip(names, r)) for r in result.fetchall()]
    finally:
        con.close()


def attempts_of(db: Path, key: str) -> list[bool]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT ok FROM notify_attempts WHERE message_key = ? ORDER BY attempted_at", [key]
            ).fetchall()
        ]
    finally:
        con.close()


def wait_for(what: str, check, timeout: float = WAIT):  # noqa: ANN001, ANN201 - a test helper
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.memory()
    yield s
    s.close()


def running_notifier(store: Store, routing: routing_mod.Routing) -> Notifier:
    """A real PlantServer's notifier over `store`, planning nothing (the test writes the outbox)."""
    server = PlantServer(store, routing=routing)
    notifier = Notifier(server, routing, plan=lambda *a, **k: ([], []), tick_seconds=0.2)
    server.notifier = notifier
    notifier.start()
    return notifier


# ------------------------------------------------------------------------------------------ the sender


def test_a_message_reaches_e_mail_as_plain_text_and_a_webhook_with_its_idempotency_key(store: Store) -> None:
    with SmtpReceiver() as mail, WebhookReceiver() as hook:
        people = {"tomasz.nowak": {"notify": [mail.url("tomasz@plant.example"), hook.url("/tomasz")]}}
        routing = cfg(people=people, routing={"retry_first": "0.2s"})
        outbox.record(store, [planned(STOP, "tomasz.nowak", routing.people["tomasz.nowak"].channels)], [], at=utcnow())
        notifier = running_notifier(store, routing)
        try:
            got_mail = mail.wait(lambda m: len(m) >= 1)
            got_hook = hook.wait(lambda r: len(r) >= 1)
            wait_for("both delivered", lambda: all(r["state"] == "delivered" for r in outbox_rows(store)))
        finally:
            notifier.stop()
    assert [subject_of(m) for m in got_mail] == [f"[CRITICAL] {STOP} for tomasz.nowak"]
    assert "plain text for tomasz.nowak" in text_of(got_mail[0])
    assert "**markdown**" not in text_of(got_mail[0])
    assert got_mail[0]["X-Planner-Message-Key"] == f"{STOP}|tomasz.nowak|1|0"
    assert [r.key for r in got_hook] == [f"{STOP}|tomasz.nowak|1|1"]
    assert got_hook[0].body["title"] == f"[CRITICAL] {STOP} for tomasz.nowak"
    assert got_hook[0].body["message"].startswith("plain text for tomasz.nowak")
    rows = outbox_rows(store)
    assert [(r["state"], r["attempts"], r["last_error"]) for r in rows] == [("delivered", 1, None)] * 2
    cur = store.cursor()
    try:
        record = outbox.deliveries(cur, exception_id=STOP)
    finally:
        cur.close()
    assert sorted(d["state"] for d in record) == ["delivered", "delivered"]


def test_a_delivery_is_published_on_the_live_stream_for_consoles(store: Store) -> None:
    import asyncio

    async def heard() -> list[dict]:
        with WebhookReceiver() as hook:
            routing = cfg(people={"ana": {"notify": [hook.url("/ana")]}})
            server = PlantServer(store, routing=routing)
            queue = server.hub.subscribe()
            outbox.record(store, [planned("hold:H1", "ana", routing.people["ana"].channels)], [], at=utcnow())
            notifier = Notifier(server, routing, plan=lambda *a, **k: ([], []), tick_seconds=0.2)
            server.notifier = notifier
            notifier.start()
            try:
                changes = []
                while not any(c and c.get("what") == "notify" for c in changes):
                    changes.append(await asyncio.wait_for(queue.get(), WAIT))
                return changes
            finally:
                notifier.stop()

    changes = asyncio.run(heard())
    notify = [c for c in changes if c and c.get("what") == "notify"]
    assert [c["exceptions"] for c in notify] == [["hold:H1"]]
    assert [r["state"] for r in outbox_rows(store)] == ["delivered"]


def test_markdown_goes_where_the_channel_renders_it() -> None:
    import apprise

    def plugin(url: str):  # noqa: ANN202
        a = apprise.Apprise()
        assert a.add(url), url
        return a[0]

    assert renders_markdown(plugin("json://127.0.0.1:9/x?format=markdown"))
    assert renders_markdown(plugin("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"))
    assert not renders_markdown(plugin("json://127.0.0.1:9/x"))
    assert not renders_markdown(plugin("mailto://user:pass@plant.example"))
    with WebhookReceiver() as hook:
        message = {**_message(hook.url("/md") + "?format=markdown")}
        deliver(message)
        got = hook.wait(lambda r: len(r) >= 1)
    assert got[0].body["message"] == "**markdown** body"


def _message(channel: str, key: str = "EXC|p|1|0") -> dict:
    return {
        "message_key": key,
        "channel": channel,
        "subject": "subject",
        "body": "plain body",
        "body_markdown": "**markdown** body",
        "reason": "new",
    }


def test_the_key_travels_as_a_header_for_webhooks_and_e_mail_only() -> None:
    assert with_key("json://h/x", "a|b") == "json://h/x?+Idempotency-Key=a%7Cb"
    assert with_key("jsons://h/x?method=PUT", "k") == "jsons://h/x?method=PUT&+Idempotency-Key=k"
    assert with_key("mailto://h?to=a@b", "k") == "mailto://h?to=a@b&+X-Planner-Message-Key=k"
    assert with_key("ntfy://h/topic", "k") == "ntfy://h/topic"


def test_failures_are_one_clear_line_and_unusable_channels_are_permanent() -> None:
    hook = WebhookReceiver()  # never up: its port refuses
    with pytest.raises(DeliveryFailed) as refused:
        deliver(_message(hook.url("/x")))
    assert not refused.value.permanent
    assert "Connection error" in refused.value.reason and "\n" not in refused.value.reason
    with pytest.raises(DeliveryFailed) as unknown:
        deliver(_message("nonsense://somewhere/x"))
    assert unknown.value.permanent and "not a channel Apprise can use" in unknown.value.reason
    env: dict[str, str] = {}
    with pytest.raises(DeliveryFailed) as unset:
        deliver(_message("json://hooks:${HOOK_TOKEN}@127.0.0.1:9/x"), expand=lambda u: routing_mod.expand(u, env))
    assert unset.value.permanent and "HOOK_TOKEN" in unset.value.reason
    with WebhookReceiver(status=503) as busy:
        with pytest.raises(DeliveryFailed) as refused_503:
            deliver(
                _message(f"json://hooks:${{HOOK_TOKEN}}@127.0.0.1:{busy.port}/x"),
                expand=lambda u: routing_mod.expand(u, {"HOOK_TOKEN": "s3cret-value"}),
            )
        seen = busy.got()
    assert "503" in refused_503.value.reason and "s3cret-value" not in refused_503.value.reason
    assert [r.headers.get("authorization", "") != "" for r in seen] == [True]  # the secret was sent, not shown


def test_a_receiver_down_for_a_while_gets_its_message_when_it_comes_back(store: Store) -> None:
    hook = WebhookReceiver()
    routing = cfg(people={"ana": {"notify": [hook.url("/ana")]}}, routing={"retries": 20, "retry_first": "0.2s"})
    outbox.record(store, [planned("hold:H1", "ana", routing.people["ana"].channels)], [], at=utcnow())
    notifier = running_notifier(store, routing)
    try:
        wait_for("two failed attempts", lambda: outbox_rows(store)[0]["attempts"] >= 2)
        assert outbox_rows(store)[0]["state"] in ("pending", "sending")
        hook.up()
        got = hook.wait(lambda r: len(r) >= 1)
        row = wait_for("delivered", lambda: next((r for r in outbox_rows(store) if r["state"] == "delivered"), None))
    finally:
        notifier.stop()
        hook.down()
    assert [r.key for r in got] == ["hold:H1|ana|1|0"]
    assert row["attempts"] >= 3 and row["last_error"] is None


def test_after_the_last_retry_a_message_is_failed_for_good_with_its_reason(store: Store) -> None:
    hook = WebhookReceiver()  # never up
    routing = cfg(people={"ana": {"notify": [hook.url("/ana")]}}, routing={"retries": 3, "retry_first": "0.1s"})
    outbox.record(store, [planned("hold:H1", "ana", routing.people["ana"].channels)], [], at=utcnow())
    notifier = running_notifier(store, routing)
    try:
        row = wait_for("failed", lambda: next((r for r in outbox_rows(store) if r["state"] == "failed"), None))
    finally:
        notifier.stop()
    assert row["attempts"] == 3
    assert "Connection error" in row["last_error"]
    cur = store.cursor()
    try:
        failed = outbox.deliveries(cur, failed_only=True)
        tries = cur.execute("SELECT ok FROM notify_attempts WHERE message_key = ?", [row["message_key"]]).fetchall()
    finally:
        cur.close()
    assert [d["message_key"] for d in failed] == [row["message_key"]]
    assert [t[0] for t in tries] == [False, False, False]


def test_a_secret_comes_from_the_environment_at_send_time_and_is_never_stored(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookReceiver() as hook:
        monkeypatch.setenv("PT_HOOK_PATH", "s3cret-path")
        channel = f"json://127.0.0.1:{hook.port}/${{PT_HOOK_PATH}}"
        routing = cfg(people={"ana": {"notify": [channel]}})
        outbox.record(store, [planned("hold:H1", "ana", (channel,))], [], at=utcnow())
        notifier = running_notifier(store, routing)
        try:
            got = hook.wait(lambda r: len(r) >= 1)
        finally:
            notifier.stop()
    assert [r.path for r in got] == ["/s3cret-path"]
    assert [r["channel"] for r in outbox_rows(store)] == [channel]


# ------------------------------------------------------------------------------------------ through `serve`


def restamped_feed(path: Path, count: int, *, first: int = 0, at: datetime | None = None) -> Path:
    """The morning's events `first` to `count` appended to `path`, happening now (in order, a millisecond
    apart)."""
    at = at or utcnow()
    with open(path, "a", encoding="utf-8") as out:
        for i, line in enumerate((SAMPLE / "scenario.jsonl").read_text().splitlines()[first:count]):
            event = json.loads(line)
            event["time"] = (at + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            out.write(json.dumps(event) + "\n")
    return path


@pytest.fixture(scope="session")
def snapshot_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample plant's snapshot with no event applied yet (the feed brings the morning), extracted now:
    the server plans at the real clock, where the sample's own dates are weeks past."""
    from planner_tui.store.loader import load_snapshot

    path = tmp_path_factory.mktemp("notify-plant") / "plant.duckdb"
    store = Store.open(path, create=True)
    try:
        load_snapshot(store, str(SAMPLE / "plant"))
        freshen(store, utcnow())
    finally:
        store.close()
    return path


def settings_file(folder: Path, people: dict[str, list[str]], routing: str = "") -> Path:
    """A settings file: each person (as the plant names them) with their channels, and the routing table."""
    lines = []
    for name, channels in people.items():
        key = name.lower().replace(" ", ".")
        lines += [f'[people."{key}"]', f'name = "{name}"', f"notify = {json.dumps(channels)}"]
    path = folder / "notify.toml"
    path.write_text("\n".join(lines) + "\n" + routing, encoding="utf-8")
    return path


class Plant:
    """A `planner-tui serve` over a copy of the snapshot, following a restamped feed, with a settings file."""

    def __init__(self, snapshot_db: Path, folder: Path, config: Path, events: int = 5) -> None:
        self.db = serverkit.copy_db(snapshot_db, folder)
        self.folder = folder
        self.config = config
        self.at = utcnow()  # when the morning's events happen (the stop is raised then)
        self.feed = restamped_feed(folder / "feed.jsonl", events, at=self.at)
        self.server: serverkit.RunningServer | None = None

    def start(self) -> serverkit.RunningServer:
        self.server = serverkit.start_server(
            self.db,
            folder=self.folder,
            tcp=False,
            args=("--events", str(self.feed), "--poll", "0.2"),
            env={"PLANNER_TUI_CONFIG": str(self.config)},
        )
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            code = self.server.stop()
            print(f"--- plant server PID {self.server.pid} (exit {code}) ---\n{self.server.log()}")
            self.server = None


@pytest.fixture
def plants(snapshot_db: Path, tmp_path: Path) -> Iterator[list[Plant]]:
    made: list[Plant] = []
    yield made
    for plant in made:
        plant.stop()


ACCOUNT_MANAGERS = ("Lars Eriksson", "Miguel Ortega", "Anna Kowalczyk")


def about(requests: list, exception_id: str) -> list:
    return [r for r in requests if (r.key or "").startswith(exception_id + "|")]


def test_the_weld_cell_stop_reaches_its_supervisor_and_the_account_managers_once_each_grouped(
    snapshot_db: Path, tmp_path: Path, plants: list[Plant]
) -> None:
    with SmtpReceiver() as mail, WebhookReceiver() as hook:
        people = {"Tomasz Nowak": [hook.url("/tomasz.nowak"), mail.url("tomasz@plant.example")]}
        people |= {name: [hook.url("/" + name.lower().replace(" ", "."))] for name in ACCOUNT_MANAGERS}
        config = settings_file(tmp_path, people, '[routing]\ngroup_wait = "1s"\n')
        plant = Plant(snapshot_db, tmp_path / "served", config)
        plants.append(plant)
        plant.start()
        paths = ["/" + name.lower().replace(" ", ".") for name in ("Tomasz Nowak", *ACCOUNT_MANAGERS)]
        hook.wait(lambda got: all(about([r for r in got if r.path == p], STOP) for p in paths))
        mail.wait(lambda got: any(m["X-Planner-Message-Key"] and STOP in m["X-Planner-Message-Key"] for m in got))
        # More of the morning: the hold, more stock moves; the stop's message is not sent again.
        restamped_feed(plant.feed, 12, first=5)
        time.sleep(3)  # a few planning ticks after the feed moved (no timing is asserted)
        got = hook.got()
        mails = mail.got()
    for path in paths:
        mine = about([r for r in got if r.path == path], STOP)
        assert len(mine) == 1, (path, [r.key for r in mine])
        assert mine[0].body["title"].startswith("[CRITICAL]") and "M-WELD-01" in mine[0].body["title"]
        assert "M-WELD-01" in mine[0].body["message"]
        # How to open it: this server, by the address it listens on (no `open_with` in the settings).
        assert plant.server is not None
        assert f"planner-tui run --server unix:{plant.server.socket}" in mine[0].body["message"]
    stop_mails = [m for m in mails if STOP in str(m["X-Planner-Message-Key"])]
    assert len(stop_mails) == 1
    assert "M-WELD-01" in subject_of(stop_mails[0]) and "M-WELD-01" in text_of(stop_mails[0])
    # One message per cause per person: the account managers' copies name their own lines.
    bodies = {r.path: r.body["message"] for r in about(got, STOP)}
    assert len(set(bodies.values())) >= 2
    # Every delivery is recorded in the outbox.
    plant.stop()
    record = [r for r in outbox_rows(plant.db) if r["exception_id"] == STOP]
    assert len(record) == 5 and {r["state"] for r in record} == {"delivered"}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_server_stopped_mid_delivery_delivers_after_restart_once(
    snapshot_db: Path, tmp_path: Path, plants: list[Plant], sig: int
) -> None:
    import threading

    hold = threading.Event()
    with WebhookReceiver(hold=hold) as hook:
        channel = hook.url("/tomasz") + "?rto=60"  # the sender waits for the held answer (Apprise's read timeout)
        config = settings_file(
            tmp_path, {"Tomasz Nowak": [channel]}, '[routing]\ngroup_wait = "0s"\nretry_first = "0.5s"\n'
        )
        plant = Plant(snapshot_db, tmp_path / "served", config)
        plants.append(plant)
        server = plant.start()
        first = hook.wait(lambda got: len(got) >= 1)  # received, its answer held back: mid-delivery
        key = first[0].key
        assert key
        code = server.signal(sig)
        if sig == signal.SIGTERM:  # a clean stop: the delivery under way is abandoned, left to the restart
            assert code == 0, server.log()
            assert "sent again on restart" in server.log()
        plant.server = None
        hold.set()
        plant.start()
        hook.wait(lambda got: len([r for r in got if r.key == key]) >= 2)  # sent again, with the same key
        plant.stop()
        got = hook.got()
    assert len([r for r in got if r.key == key]) == 2
    assert list(hook.by_key()).count(key) == 1  # the receiver acts on it once
    row = next(r for r in outbox_rows(plant.db) if r["message_key"] == key)
    assert row["state"] == "delivered"
    assert attempts_of(plant.db, key)[-1] is True


def test_an_unacknowledged_critical_escalates_after_its_delay_each_level_once(
    snapshot_db: Path, tmp_path: Path, plants: list[Plant]
) -> None:
    with WebhookReceiver() as hook:
        people = {
            "Tomasz Nowak": [hook.url("/tomasz")],
            "Plant Manager": [hook.url("/pm")],
            "Director": [hook.url("/dir")],
        }
        routing = """[routing]
group_wait = "0s"
[[routing.escalation]]
match = { kind = "machine_down", severity = "critical" }
after = "2s"
to = ["plant.manager"]
[[routing.escalation]]
match = { kind = "machine_down", severity = "critical" }
after = "4s"
to = ["director"]
"""
        plant = Plant(snapshot_db, tmp_path / "served", settings_file(tmp_path, people, routing))
        plants.append(plant)
        plant.start()
        hook.wait(lambda got: about([r for r in got if r.path == "/dir"], STOP))
        time.sleep(2)  # a couple of planning ticks more: a level told once stays told
        got = hook.got()
    to_pm = about([r for r in got if r.path == "/pm"], STOP)
    to_director = about([r for r in got if r.path == "/dir"], STOP)
    assert len(to_pm) == 1 and len(to_director) == 1
    assert "Escalat" in to_pm[0].body["title"] and "M-WELD-01" in to_pm[0].body["title"]
    assert len(about([r for r in got if r.path == "/tomasz"], STOP)) == 1


def test_an_acknowledgement_stops_repeats_and_escalation(
    snapshot_db: Path, tmp_path: Path, plants: list[Plant]
) -> None:
    with WebhookReceiver() as hook:
        people = {"Tomasz Nowak": [hook.url("/tomasz")], "Plant Manager": [hook.url("/pm")]}
        routing = """[routing]
group_wait = "0s"
repeat_interval = "1s"
[[routing.escalation]]
match = { kind = "machine_down", severity = "critical" }
after = "20s"
to = ["plant.manager"]
"""
        plant = Plant(snapshot_db, tmp_path / "served", settings_file(tmp_path, people, routing))
        plants.append(plant)
        server = plant.start()
        # It repeats while nobody acknowledges it ...
        hook.wait(lambda got: len(about([r for r in got if r.path == "/tomasz"], STOP)) >= 2)
        acked = server.cli("triage", "ack", STOP, "--server", server.unix)
        assert acked.returncode == 0, acked.stderr
        acked_at = utcnow()
        # ... and after the acknowledgement, until well past the escalation's delay: nothing more.
        wait_for("past the escalation's delay", lambda: utcnow() > plant.at + timedelta(seconds=24), timeout=90)
        plant.stop()
    rows = [r for r in outbox_rows(plant.db) if r["exception_id"] == STOP]
    repeats_before = [r for r in rows if r["reason"] == "repeat" and r["created_at"] < acked_at]
    after = [r for r in rows if r["created_at"] > acked_at]
    assert repeats_before, [(r["reason"], r["created_at"]) for r in rows]
    assert after == []
    assert [r for r in rows if r["reason"] == "escalation"] == []


def test_a_delivery_failed_after_the_last_retry_is_a_notification_failed_exception(
    snapshot_db: Path, tmp_path: Path, plants: list[Plant]
) -> None:
    dead = f"json://127.0.0.1:{free_port()}/tomasz"  # nothing listens there
    config = settings_file(
        tmp_path, {"Tomasz Nowak": [dead]}, '[routing]\ngroup_wait = "0s"\nretries = 2\nretry_first = "0.2s"\n'
    )
    plant = Plant(snapshot_db, tmp_path / "served", config)
    plants.append(plant)
    server = plant.start()

    def failed() -> list[dict]:
        listed = server.cli("exceptions", "--json", "--kind", "notification_failed", "--server", server.unix)
        if listed.returncode != 0:
            return []
        answer = json.loads(listed.stdout)
        found = answer.get("exceptions", answer) if isinstance(answer, dict) else answer
        return [e for e in found if e.get("kind") == "notification_failed"]

    found = wait_for("a notification_failed exception", failed)
    assert [e["exception_id"] for e in found] == ["notification_failed:tomasz.nowak"]
    assert "Connection error" in (found[0].get("detail") or {}).get("last_error", "")


def test_serve_refuses_a_routing_it_cannot_use(snapshot_db: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[people."ana"]\nnotify = ["not a url"]\n', encoding="utf-8")
    done = serverkit.cli("serve", "--db", str(snapshot_db), env={"PLANNER_TUI_CONFIG": str(config)}, folder=tmp_path)
    assert done.returncode != 0
    assert "people" in done.stderr and "Traceback" not in done.stderr
