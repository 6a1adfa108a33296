"""Events over MQTT against a real broker (mosquitto, tests/mqttkit.py): CloudEvents structured, binary (MQTT 5
user properties) and batch payloads, plain machine-state messages mapped by the `mqtt` setting, persistent
sessions across a SIGKILLed consumer, QoS 1 redelivery, and `feed publish`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import mqttkit
import paho.mqtt.client as mqtt
import pytest
from eventkit import ce, one, plant
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from typer.testing import CliRunner

from planner_tui import mqtt_topics, settings
from planner_tui.cli import app
from planner_tui.errors import BadRequest
from planner_tui.feeds.mqtt import MqttFeed, parse_url
from planner_tui.feeds.poller import open_feed
from planner_tui.store import Store

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent

MAPPING = {
    "topics": [
        {
            "topic": "{prefix}/+/{machine_id}/state",
            "field": "state",
            "states": {"down": "machine.down", "stopped": "machine.down", "running": "machine.up"},
            "reason": "reason",
            "time": "ts",
            "data": {"expected_minutes": "eta_min"},
        }
    ]
}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    reason = mqttkit.tools_reason()
    if reason:
        pytest.skip(reason)
    with mqttkit.Broker(tmp_path_factory.mktemp("mosquitto")) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_settings():
    """Each test reads the settings file it wrote (an in-process CLI call keeps what it loaded)."""
    settings.use(None)
    yield
    settings.use(None)


@pytest.fixture
def prefix() -> str:
    """A topic prefix of this test's own: the broker is shared by the module."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "plant.db"
    plant(Store.open(path)).close()
    return path


def mapping(prefix: str) -> mqtt_topics.MqttSettings:
    table = json.loads(json.dumps(MAPPING).replace("{prefix}", prefix))
    return mqtt_topics.parse(table, None)


def publish(broker, topic: str, payload: bytes | str, *, properties: Properties | None = None, times: int = 1) -> None:
    """Publish with QoS 1 and wait for the broker's acknowledgement."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for _ in range(times):
            info = client.publish(topic, payload, qos=1, properties=properties)
            info.wait_for_publish(10)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def structured(event: dict) -> bytes:
    return json.dumps(event).encode()


def poll_until(feed, count: int, *, seconds: float = 15.0):
    """Poll until `count` events were received in all (bounded); the merged ApplyResult."""
    total = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outcome = feed.poll_once()
        assert outcome.status.state != "stale", outcome.status.last_error
        if outcome.result is not None:
            total = outcome.result if total is None else total.merge(outcome.result)
        if total is not None and total.received >= count:
            return total
    raise AssertionError(f"received {total.received if total else 0} of {count} events in {seconds:g} s")


def subscribed(store: Store, broker, prefix: str, **opts) -> MqttFeed:
    """A feed on `prefix/#`, subscribed (its first poll creates the session)."""
    feed = open_feed(store, f"{broker.url}/{prefix}/%23", timeout=5, **opts)
    assert isinstance(feed, MqttFeed)
    first = feed.poll_once()
    assert first.status.state == "live", first.status.last_error
    return feed


def machine(store: Store, machine_id: str) -> tuple:
    return (
        store.cursor()
        .execute("SELECT state, since, reason, expected_minutes FROM machine_states WHERE machine_id = ?", [machine_id])
        .fetchone()
    )


# --- payloads ------------------------------------------------------------------------------------------


def test_a_structured_cloudevent_over_mqtt_reaches_the_store(broker, prefix):
    with plant(Store.memory()) as store, subscribed(store, broker, prefix, mqtt_settings=None) as feed:
        event = ce("s1", "machine.down", {"machine_id": "M1", "reason": "jam"}, time="2026-01-05T09:00:00Z")
        publish(broker, f"{prefix}/events", structured(event))
        result = poll_until(feed, 1)
        assert (result.applied, result.rejected) == (1, 0), result.rejections
        assert machine(store, "M1")[0] == "down" and machine(store, "M1")[2] == "jam"
        assert one(store, "SELECT feed FROM event_log WHERE event_id = 's1'") == f"{broker.url}/{prefix}/%23"


def test_a_binary_mode_cloudevent_with_user_properties_reaches_the_store(broker, prefix):
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = "application/json"
    props.UserProperty = [
        ("specversion", "1.0"),
        ("id", "b1"),
        ("type", "machine.down"),
        ("time", "2026-01-05T09:30:00Z"),
        ("sequence", "7"),
    ]  # no source: the topic is the source
    with plant(Store.memory()) as store, subscribed(store, broker, prefix, mqtt_settings=None) as feed:
        publish(broker, f"{prefix}/line1/M2", b'{"machine_id": "M2", "reason": "tool change"}', properties=props)
        result = poll_until(feed, 1)
        assert (result.applied, result.rejected) == (1, 0), result.rejections
        state, since, reason, _ = machine(store, "M2")
        assert (state, reason, since.isoformat()) == ("down", "tool change", "2026-01-05T09:30:00")
        row = store.cursor().execute("SELECT source, sequence FROM event_log WHERE event_id = 'b1'").fetchone()
        assert row[0] == f"{broker.url}/{prefix}/line1/M2" and str(row[1]) == "7"


def test_a_batch_array_applies_each_event(broker, prefix):
    batch = [ce("a1", "machine.down", {"machine_id": "M1"}), ce("a2", "machine.down", {"machine_id": "NOPE"})]
    with plant(Store.memory()) as store, subscribed(store, broker, prefix, mqtt_settings=None) as feed:
        publish(broker, f"{prefix}/batch", json.dumps(batch))
        result = poll_until(feed, 2)
        assert (result.applied, result.rejected) == (1, 1)
        assert result.rejections == [("a2", "unknown machine NOPE")]


def test_a_plain_machine_state_message_is_mapped_by_the_setting(broker, prefix):
    with plant(Store.memory()) as store, subscribed(store, broker, prefix, mqtt_settings=mapping(prefix)) as feed:
        payload = {"state": "stopped", "reason": "no operator", "ts": "2026-01-05T10:00:00Z", "eta_min": 45}
        publish(broker, f"{prefix}/line1/M1/state", json.dumps(payload))
        publish(broker, f"{prefix}/line1/M2/state", json.dumps({"state": "RUNNING", "ts": 1767607200}))
        result = poll_until(feed, 2)
        assert (result.applied, result.rejected) == (2, 0), result.rejections
        state, since, reason, expected = machine(store, "M1")
        assert (state, since.isoformat(), reason, expected) == ("down", "2026-01-05T10:00:00", "no operator", 45)
        state, since, _, _ = machine(store, "M2")
        assert (state, since.isoformat()) == ("running", "2026-01-05T10:00:00")  # epoch seconds read as UTC
        types = [r[0] for r in store.cursor().execute("SELECT type FROM event_log ORDER BY event_time").fetchall()]
        assert types == ["machine.down", "machine.up"]


def test_unmappable_messages_are_kept_as_rejected_with_the_reason(broker, prefix):
    with plant(Store.memory()) as store, subscribed(store, broker, prefix, mqtt_settings=mapping(prefix)) as feed:
        publish(broker, f"{prefix}/line1/M1/state", json.dumps({"state": "idle"}))
        publish(broker, f"{prefix}/line1/M1/state", "{not json")
        publish(broker, f"{prefix}/line1/M1/state", json.dumps({"status": "down"}))
        publish(broker, f"{prefix}/elsewhere", json.dumps({"state": "down"}))
        publish(broker, f"{prefix}/raw", b"\xff\xfe")
        result = poll_until(feed, 5)
        assert (result.applied, result.rejected) == (0, 5)
        rows = store.cursor().execute("SELECT outcome, reason, data FROM event_log ORDER BY received_at").fetchall()
        reasons = [r[1] for r in rows]
        assert {r[0] for r in rows} == {"rejected"}
        assert reasons[0].startswith("state 'idle' has no entry in mqtt.topics[0].states")
        assert reasons[1].startswith("not valid JSON")
        assert reasons[2] == "the payload has no field 'state' (mqtt.topics[0])"
        assert reasons[3].startswith("not a CloudEvent") and f"'{prefix}/elsewhere'" in reasons[3]
        assert reasons[4].startswith("the payload is not UTF-8 text")
        assert json.loads(rows[1][2])["payload"] == "{not json"  # what arrived is kept
        assert machine(store, "M1") is None  # nothing changed


# --- QoS 1: duplicates and redelivery -------------------------------------------------------------------


def test_a_qos1_duplicate_is_applied_once(broker, prefix):
    with plant(Store.memory()) as store, subscribed(store, broker, prefix, mqtt_settings=mapping(prefix)) as feed:
        publish(broker, f"{prefix}/events", structured(ce("d1", "machine.down", {"machine_id": "M1"})), times=2)
        publish(broker, f"{prefix}/l/M2/state", json.dumps({"state": "down", "ts": "2026-01-05T08:00:00Z"}), times=2)
        result = poll_until(feed, 4)
        assert (result.applied, result.duplicates) == (2, 2)
        counts = store.cursor().execute("SELECT event_id, count(*) FROM event_log GROUP BY event_id").fetchall()
        assert len(counts) == 2 and {c for _, c in counts} == {1}


def test_a_message_not_acknowledged_is_delivered_again_and_dropped_as_a_duplicate(broker, prefix, tmp_path):
    """Committed but killed before the ack: the broker redelivers, and the store has it already."""
    path = tmp_path / "plant.db"
    plant(Store.open(path)).close()
    with Store.open(path) as store:
        feed = subscribed(store, broker, prefix, mqtt_settings=None)
        feed.client.ack = lambda mid, qos: mqtt.MQTT_ERR_SUCCESS  # the process "dies" between commit and ack
        publish(broker, f"{prefix}/events", structured(ce("r1", "machine.down", {"machine_id": "M1"})))
        assert poll_until(feed, 1).applied == 1
        feed.close()
        again = open_feed(store, f"{broker.url}/{prefix}/%23", timeout=5, mqtt_settings=None)
        assert again.client_id == feed.client_id  # the same session
        result = poll_until(again, 1)
        assert (result.applied, result.duplicates) == (0, 1)
        again.close()
        # Acknowledged this time: a third consumer gets nothing.
        third = open_feed(store, f"{broker.url}/{prefix}/%23", timeout=5, mqtt_settings=None)
        assert third.poll_once().applied == 0
        third.close()
        assert one(store, "SELECT count(*) FROM event_log WHERE event_id = 'r1'") == 1


def _pull(db: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "planner_tui", "events", "pull", url, "--db", str(db), "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def test_a_consumer_killed_while_messages_are_published_gets_every_message_once(broker, prefix, db):
    url = f"{broker.url}/{prefix}/%23"
    first = _pull(db, url)  # creates the session, so what is published from now on waits for us
    assert first.returncode == 0, first.stderr
    count = 120
    ids = [f"k{n:03d}" for n in range(count)]

    def produce() -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        try:
            for n, event_id in enumerate(ids):
                kind = "machine.down" if n % 2 == 0 else "machine.up"
                event = ce(event_id, kind, {"machine_id": "M1"}, time=f"2026-01-05T08:{n // 60:02d}:{n % 60:02d}Z")
                client.publish(f"{prefix}/m/{n % 3}", json.dumps(event), qos=1).wait_for_publish(10)
                time.sleep(0.01)
        finally:
            client.disconnect()
            client.loop_stop()

    consumer = subprocess.Popen(
        [sys.executable, "-m", "planner_tui", "events", "pull", url, "--db", str(db), "--follow", "--poll", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200"),
    )
    producer = threading.Thread(target=produce)
    try:
        assert consumer.stdout is not None
        assert "following" in consumer.stderr.readline()
        producer.start()
        seen = ""
        while "applied" not in seen or "applied 0," in seen:  # killed once it has applied some
            seen = consumer.stdout.readline()
            assert seen, consumer.stderr.read()
    finally:
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(timeout=30)
        producer.join(timeout=60)
    assert not producer.is_alive()
    again = _pull(db, url)  # what was queued while it was dead, and what it had not acknowledged
    assert again.returncode == 0, again.stderr
    with Store.open(db, read_only=True) as store:
        rows = store.cursor().execute("SELECT event_id, count(*), min(outcome) FROM event_log GROUP BY 1").fetchall()
    assert sorted(r[0] for r in rows) == ids
    assert {(r[1], r[2]) for r in rows} == {(1, "applied")}


def test_a_plant_server_follows_an_mqtt_feed_and_its_clients_see_the_event(broker, prefix, db):
    import serverkit

    url = f"{broker.url}/{prefix}/%23"
    server = serverkit.start_server(db, tcp=False, args=("--events", url, "--poll", "0.2"))
    try:
        plant_client = server.client()
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:  # subscribed: from now on the broker keeps what is published
            status = plant_client.feed_status()
            if status and status.get("state") == "live":
                break
            time.sleep(0.05)
        assert status and status["state"] == "live", (status, server.log())
        assert status["feed"] == url
        publish(broker, f"{prefix}/line1", structured(ce("srv1", "machine.down", {"machine_id": "M1", "reason": "x"})))
        history: list = []
        while time.monotonic() < deadline and not history:
            history = plant_client.event_history(type="machine.down")
            time.sleep(0.05)
        assert [(e["id"], e["outcome"]) for e in history] == [("srv1", "applied")], server.log()
        plant_client.close()
    finally:
        code = server.stop()
    assert code == 0 and "Traceback" not in server.log(), server.log()


# --- the command line and the settings -------------------------------------------------------------------


def _config(text: str) -> None:
    Path(os.environ["PLANNER_TUI_CONFIG"]).write_text(text)
    settings.use(None)  # read again by the next command or feed


def test_events_pull_applies_a_mapped_message_published_while_it_was_not_running(broker, prefix, db):
    _config(
        f"""
[mqtt]
client_id = "ptui-{prefix}"
[[mqtt.topics]]
topic = "{prefix}/+/{{machine_id}}/state"
states = {{ down = "machine.down", running = "machine.up" }}
reason = "why"
"""
    )
    url = f"{broker.url}/{prefix}/+/+/state"
    first = _pull(db, url)
    assert first.returncode == 0, first.stderr
    publish(broker, f"{prefix}/line2/M1/state", json.dumps({"state": "down", "why": "hydraulics"}))
    second = _pull(db, url)
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)["result"]
    assert (result["applied"], result["rejected"]) == (1, 0), result
    with Store.open(db, read_only=True) as store:
        assert machine(store, "M1")[0::2] == ("down", "hydraulics")


def test_bad_mqtt_settings_name_the_key(tmp_path, db):
    _config('[mqtt]\n[[mqtt.topics]]\ntopic = "plant/#/x"\nstates = { down = "machine.down" }\n')
    result = runner.invoke(app, ["events", "pull", "mqtt://127.0.0.1:1/plant/%23", "--db", str(db)])
    assert result.exit_code != 0
    assert "key 'mqtt.topics[0].topic'" in result.output and "'#' may only be the last level" in result.output

    _config('[mqtt]\n[[mqtt.topics]]\ntopic = "p/{machine_id}"\nstates = { down = "machine.dwon" }\n')
    result = runner.invoke(app, ["events", "pull", "mqtt://127.0.0.1:1/p/%23", "--db", str(db)])
    assert result.exit_code != 0
    assert "key 'mqtt.topics[0].states.down': unknown event type" in result.output and "machine.dwon" in result.output
    assert "Traceback" not in result.output

    _config('[mqtt]\n[[mqtt.topics]]\ntopic = "p/+/state"\nstates = { down = "machine.down" }\n')
    result = runner.invoke(app, ["events", "pull", "mqtt://127.0.0.1:1/p/%23", "--db", str(db)])
    assert result.exit_code != 0
    assert "machine.down needs data.machine_id" in result.output


@pytest.mark.parametrize(
    ("table", "key", "why"),
    [
        ({"topics": [{"topic": "a/+b", "states": {"x": "machine.up"}}]}, "topics[0].topic", "a level is either"),
        ({"topics": [{"topic": "a/b"}]}, "topics[0].states", "missing"),
        ({"topics": [{"topic": "a/b", "states": {"x": "up"}}]}, "topics[0].states.x", "an event type"),
        ({"topics": [{"topic": "a", "states": {"x": "a.b"}, "stats": 1}]}, "topics[0].stats", "unknown key"),
        ({"client_id": "has space"}, "client_id", "expected 1 to 128"),
        ({"topics": "x"}, "topics", "list of tables"),
        ({"topics": [{"topic": "{m}/x", "states": {"x": "a.b"}, "data": {"m": "y"}}]}, "topics[0].data.m", "also"),
    ],
)
def test_topic_map_errors_name_the_entry(table, key, why):
    with pytest.raises(mqtt_topics.TopicMapError) as caught:
        mqtt_topics.parse(table, None)
    assert caught.value.key == key and why in caught.value.why


def test_topic_patterns_match_as_mqtt_filters_do():
    parsed = mqtt_topics.parse(
        {"topics": [{"topic": "plant/+/{machine_id}/#", "states": {"down": "machine.down"}}]}, None
    )
    (topic_map,) = parsed.topics
    assert topic_map.subscription == "plant/+/+/#"
    assert topic_map.match("plant/l1/M1/state") == {"machine_id": "M1"}
    assert topic_map.match("plant/l1/M1") == {"machine_id": "M1"}  # '#' matches the parent level too
    assert topic_map.match("plant/l1") is None and topic_map.match("other/l1/M1/x") is None
    assert mqtt_topics.shown(parsed)["topics"][0]["topic"] == "plant/+/{machine_id}/#"


def test_mqtt_urls_carry_the_topic_and_never_show_the_password():
    address = parse_url("mqtts://ana:s3cret@broker.example/plant/%23")
    assert (address.host, address.port, address.topic, address.tls) == ("broker.example", 8883, "plant/#", True)
    assert (address.username, address.password) == ("ana", "s3cret")
    assert address.shown == "mqtts://broker.example/plant/%23" and "s3cret" not in address.shown
    assert parse_url("mqtt://h:1884/a/+/b").port == 1884
    assert parse_url("mqtt://h/a/#").topic == "a/#"  # a bare '#' is the topic's, not a URL fragment
    with pytest.raises(BadRequest, match="no topic"):
        parse_url("mqtt://h:1883/")


def test_a_dead_broker_makes_the_feed_stale_with_a_clear_error(tmp_path):
    port = mqttkit.free_port()  # nothing listens there
    with plant(Store.memory()) as store:
        feed = open_feed(store, f"mqtt://127.0.0.1:{port}/plant/%23", timeout=2, mqtt_settings=None)
        outcome = feed.poll_once()
        assert outcome.status.state == "stale"
        assert outcome.status.last_error == f"cannot connect to the broker at 127.0.0.1:{port}: connection refused"
        again = feed.poll_once()  # backing off: says so, never raises
        assert again.status.state == "stale" and "trying again in" in again.status.last_error
        feed.close()


# --- feed publish --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["structured", "binary"])
def test_feed_publish_replays_the_scenario_and_events_pull_applies_it(broker, prefix, tmp_path, sample_dir, mode):
    db = tmp_path / "sample.db"
    assert runner.invoke(app, ["load", str(sample_dir), "--db", str(db)]).exit_code == 0
    scenario = ROOT / "sample_data" / "scenario.jsonl"
    lines = [json.loads(line) for line in scenario.read_text().splitlines() if line.strip()]
    url = f"{broker.url}/{prefix}/%23"
    first = _pull(db, url)
    assert first.returncode == 0, first.stderr
    args = ["feed", "publish", str(scenario), f"{broker.url}/{prefix}/{{type}}", "--speed", "1000000"]
    published = runner.invoke(app, args + (["--binary"] if mode == "binary" else []))
    assert published.exit_code == 0, published.output
    assert f"published {len(lines)} events" in published.output
    pulled = _pull(db, url)
    assert pulled.returncode == 0, pulled.stderr
    result = json.loads(pulled.stdout)["result"]
    assert (result["applied"], result["rejected"], result["unknown"]) == (len(lines), 0, 0), result["rejections"]
    with Store.open(db, read_only=True) as store:
        ids = {r[0] for r in store.cursor().execute("SELECT event_id FROM event_log").fetchall()}
        topics = {r[0] for r in store.cursor().execute("SELECT DISTINCT type FROM event_log").fetchall()}
    assert ids == {e["id"] for e in lines} and topics == {e["type"] for e in lines}


# --- credentials ---------------------------------------------------------------------------------------


def test_mqtts_with_a_client_certificate_and_a_password_from_the_credentials_setting(tmp_path, prefix):
    import trustme

    if mqttkit.tools_reason():
        pytest.skip(mqttkit.tools_reason())
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    client = ca.issue_cert("planner-tui")
    files = {
        "server.pem": server.cert_chain_pems[0].bytes(),
        "server.key": server.private_key_pem.bytes(),
        "ca.pem": ca.cert_pem.bytes(),
        "client.pem": client.cert_chain_pems[0].bytes(),
        "client.key": client.private_key_pem.bytes(),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    tls = (tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem")
    with mqttkit.Broker(tmp_path / "broker", users={"ana": "s3cret-pass"}, tls=tls) as secured:
        url = f"{secured.url}/{prefix}/%23"
        with plant(Store.memory()) as store:
            # No credentials: the TLS handshake fails (no client certificate, and the CA is not the system's).
            refused = open_feed(store, url, timeout=3, mqtt_settings=None)
            outcome = refused.poll_once()
            refused.close()
            assert outcome.status.state == "stale"
            assert outcome.status.last_error.startswith(f"TLS with the broker at 127.0.0.1:{secured.port} failed")
            _config(
                f"""
[[credentials]]
url = "mqtts://127.0.0.1:{secured.port}/"
username = "ana"
password = "${{PTUI_MQTT_PASSWORD}}"
ca = "{tmp_path / "ca.pem"}"
client_cert = "{tmp_path / "client.pem"}"
client_key = "{tmp_path / "client.key"}"
"""
            )
            os.environ["PTUI_MQTT_PASSWORD"] = "s3cret-pass"
            try:
                feed = open_feed(store, url, timeout=5, mqtt_settings=None)
                first = feed.poll_once()
                assert first.status.state == "live", first.status.last_error
                os.environ["PTUI_MQTT_PASSWORD"] = "wrong"
                wrong = open_feed(store, url, timeout=5, mqtt_settings=None, client_id=f"{prefix}-wrong")
                bad = wrong.poll_once()
                wrong.close()
                assert bad.status.state == "stale"
                assert bad.status.last_error == "the broker refused the connection: Not authorized"
            finally:
                del os.environ["PTUI_MQTT_PASSWORD"]
            sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            sender.username_pw_set("ana", "s3cret-pass")
            sender.tls_set(
                ca_certs=str(tmp_path / "ca.pem"),
                certfile=str(tmp_path / "client.pem"),
                keyfile=str(tmp_path / "client.key"),
            )
            sender.connect("127.0.0.1", secured.port)
            sender.loop_start()
            info = sender.publish(f"{prefix}/x", structured(ce("tls1", "machine.down", {"machine_id": "M1"})), qos=1)
            info.wait_for_publish(10)
            sender.disconnect()
            sender.loop_stop()
            assert poll_until(feed, 1).applied == 1
            feed.close()
            assert machine(store, "M1")[0] == "down"
