"""An MQTT feed: `mqtt://HOST:PORT/TOPIC-FILTER` (`mqtts://` for TLS), and `publish_events`, which replays a
scenario into a broker (`planner-tui feed publish`).

The feed subscribes with QoS 1 in a persistent MQTT 5 session (clean start off, a session expiry) under a
stable client id, so what was published while planner_tui was down is delivered when it comes back. paho's
network thread puts each message in a queue; `_poll` drains it, applies the batch (one transaction) and only
then acknowledges its messages: killed before the commit, the broker delivers them again; killed after, the
redelivery is a duplicate by source+id. Payloads are CloudEvents (structured, the MQTT binding's binary mode
with user properties, or a batch array), or plain machine-state messages mapped by the `mqtt` setting
(planner_tui/mqtt_topics.py). Whatever cannot be read is kept as rejected with the reason.
"""

from __future__ import annotations

import hashlib
import json
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from planner_tui import mqtt_topics, settings
from planner_tui.errors import BadRequest
from planner_tui.feeds.base import Feed, FeedUnavailable, _FeedTrouble, _Progress
from planner_tui.mqtt_topics import MqttSettings, TopicMapError
from planner_tui.store import Store
from planner_tui.store.events import BATCH_CONTENT_TYPE, EVENT_CONTENT_TYPE, REGISTRY, loads_lenient, parse_event

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
# How much of a payload that cannot be read the history keeps (enough to see what it was).
KEPT_PAYLOAD_CHARS = 4096


# ---------------------------------------------------------------------------------------------- addresses


@dataclass(frozen=True)
class MqttAddress:
    scheme: str  # "mqtt" | "mqtts"
    host: str
    port: int
    topic: str  # a topic filter (subscribing) or a topic name, maybe with {type} (publishing)
    username: str | None = None
    password: str | None = None
    port_given: bool = False

    @property
    def tls(self) -> bool:
        return self.scheme == "mqtts"

    @property
    def server(self) -> str:
        """scheme://host[:port], without credentials: what is stored and shown."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + (f":{self.port}" if self.port_given else "")

    @property
    def shown(self) -> str:
        """The URL as stored and shown (the feed's name): no credentials, `#` as %23 (a URL fragment else)."""
        return f"{self.server}/{_url_path(self.topic)}"

    def source_of(self, topic: str) -> str:
        """The CloudEvents source of a message on `topic` that names none of its own."""
        return f"{self.server}/{_url_path(topic)}"


def _url_path(topic: str) -> str:
    return topic.replace("%", "%25").replace("#", "%23").replace("?", "%3F")


def parse_url(url: str) -> MqttAddress:
    """An mqtt:// or mqtts:// URL: its path is the topic (`%23` may stand for `#`); BadRequest otherwise."""
    scheme, sep, rest = str(url).partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in DEFAULT_PORTS:
        raise BadRequest("an MQTT feed is mqtt://HOST[:PORT]/TOPIC-FILTER or mqtts://...")
    netloc, _, topic_part = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    host, port_text = hostport, ""
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    elif ":" in hostport:
        host, _, port_text = hostport.rpartition(":")
    shown = f"{scheme}://{hostport}/{topic_part}"
    if not host:
        raise BadRequest(f"{shown}: no host (mqtt://HOST[:PORT]/TOPIC-FILTER)")
    if port_text and (not port_text.isdigit() or not 0 < int(port_text) < 65536):
        raise BadRequest(f"{shown}: the port must be a number from 1 to 65535, got {port_text!r}")
    topic = unquote(topic_part)
    if not topic:
        raise BadRequest(f"{shown}: no topic: give one after the host, e.g. {scheme}://{hostport}/plant/%23")
    return MqttAddress(
        scheme=scheme,
        host=host,
        port=int(port_text) if port_text else DEFAULT_PORTS[scheme],
        topic=topic,
        username=username,
        password=password,
        port_given=bool(port_text),
    )


def check_filter(topic: str, shown: str) -> None:
    """BadRequest unless `topic` is a valid MQTT topic filter (`+` a whole level, `#` the whole last one)."""
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if ("#" in level and (level != "#" or i != len(levels) - 1)) or ("+" in level and level != "+"):
            raise BadRequest(
                f"{shown}: invalid topic filter {topic!r}: '+' stands for a whole level and '#' for the whole last one"
            )


def _reason_text(code: Any) -> str:
    if isinstance(code, ReasonCode):
        return code.getName()
    return str(code)


def _connect_message(exc: BaseException, address: MqttAddress) -> str:
    where = f"{address.host}:{address.port}"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to the broker at {where}: connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot connect to the broker at {where}: unknown host"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"cannot connect to the broker at {where}: timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with the broker at {where} failed: {exc.reason or exc}"
    return f"cannot connect to the broker at {where}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)


def _new_client(address: MqttAddress, client_id: str, *, timeout: float, manual_ack: bool) -> mqtt.Client:
    """A paho client (MQTT 5) with the URL's or the settings' credentials and, for mqtts://, TLS."""
    from planner_tui import credentials

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
        reconnect_on_failure=False,  # reconnects are the feed's, with its backoff and its error messages
    )
    client.connect_timeout = timeout
    entry = credentials.for_url(address.shown)
    username = address.username or (entry.username if entry else None)
    password = address.password if address.username else (entry.password if entry else None)
    if username is not None:
        client.username_pw_set(username, password)
    if address.tls:
        try:
            client.tls_set(
                ca_certs=str(entry.ca) if entry and entry.ca else None,
                certfile=str(entry.client_cert) if entry and entry.client_cert else None,
                keyfile=str(entry.client_key) if entry and entry.client_key else None,
                keyfile_password=getattr(entry, "client_key_password", None) if entry else None,
            )
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise BadRequest(f"{address.shown}: cannot use the TLS files of its credentials: {exc}") from None
    return client


def default_client_id(store: Store, feed: str) -> str:
    """A client id stable across restarts of the same consumer: this machine, this database, this feed
    (two feeds of one store must not share a session: the broker would keep cutting one off)."""
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())[:24] or "host"
    place = str(Path(store.path).resolve()) if store.path else "memory"
    digest = hashlib.sha256(f"{place}\n{feed}".encode()).hexdigest()[:12]
    return f"planner-tui-{host}-{digest}"


# ---------------------------------------------------------------------------------------------- payloads


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user_properties(message: mqtt.MQTTMessage) -> tuple[dict[str, str], str | None]:
    props = getattr(message, "properties", None)
    pairs = getattr(props, "UserProperty", None) or []
    content_type = getattr(props, "ContentType", None)
    return {str(k): str(v) for k, v in pairs}, content_type


def _topic_of(message: mqtt.MQTTMessage) -> str:
    try:
        return message.topic
    except UnicodeDecodeError:  # MQTT requires UTF-8 topics; keep what can be read
        return message._topic.decode("utf-8", "replace")


class _Converter:
    """MQTT messages -> normalised events (parse_event's shape), each stamped with its arrival."""

    def __init__(self, address: MqttAddress, mapping: MqttSettings | None):
        self.address = address
        self.mapping = mapping

    def events(self, message: mqtt.MQTTMessage, arrived: datetime) -> list[dict]:
        topic = _topic_of(message)
        payload = bytes(message.payload or b"")
        source = self.address.source_of(topic)
        # Deterministic, so a redelivery of a message that carries no id of its own is still a duplicate.
        content_id = "mqtt-" + hashlib.sha256(topic.encode("utf-8", "replace") + b"\0" + payload).hexdigest()[:32]
        events = self._convert(topic, payload, source, content_id, message, arrived)
        for event in events:
            event["received_at"] = arrived
        return events

    def _reject(self, topic: str, payload: bytes, source: str, content_id: str, reason: str) -> dict:
        text = payload.decode("utf-8", "replace")
        if len(text) > KEPT_PAYLOAD_CHARS:
            text = text[:KEPT_PAYLOAD_CHARS] + f"... ({len(payload):,} bytes in all)"
        return {
            "source": source,
            "id": content_id,
            "type": None,
            "time": None,
            "sequence": None,
            "data": None,
            "raw": {"topic": topic, "payload": text},
            "error": reason,
        }

    @staticmethod
    def _structured(obj: Any, source: str) -> dict:
        if isinstance(obj, dict) and (obj.get("source") is None or obj.get("source") == ""):
            obj = {**obj, "source": source}  # the topic names where it came from
        return parse_event(obj, fallback_source=source)

    def _convert(
        self, topic: str, payload: bytes, source: str, content_id: str, message: mqtt.MQTTMessage, arrived: datetime
    ) -> list[dict]:
        props, content_type = _user_properties(message)
        kind = (content_type or "").split(";")[0].strip().lower()
        if "specversion" in props:
            return [self._binary(props, content_type, payload, source, topic, content_id)]
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            return [self._reject(topic, payload, source, content_id, f"the payload is not UTF-8 text ({exc.reason})")]
        text = text.removeprefix("\ufeff")
        problem: str | None = None
        obj: Any = None
        try:
            obj = loads_lenient(text, descend="[{")
        except ValueError as exc:
            problem = f"not valid JSON: {exc}"
        if problem is None:
            if kind == BATCH_CONTENT_TYPE or isinstance(obj, list):
                if not isinstance(obj, list):
                    return [
                        self._reject(topic, payload, source, content_id, "a CloudEvents batch must be a JSON array")
                    ]
                return [self._structured(item, source) for item in obj]
            if kind == EVENT_CONTENT_TYPE or (isinstance(obj, dict) and "specversion" in obj):
                return [self._structured(obj, source)]
        found = self.mapping.map_for(topic) if self.mapping is not None else None
        if found is not None:
            topic_map, captured = found
            if problem is not None and text.lstrip()[:1] in ("{", "["):
                return [self._reject(topic, payload, source, content_id, problem)]
            value = obj if problem is None else text.strip()  # a bare `down` is the state itself
            mapped = mqtt_topics.map_payload(topic_map, captured, value)
            if isinstance(mapped, str):
                return [self._reject(topic, payload, source, content_id, mapped)]
            event = {
                "specversion": "1.0",
                "id": content_id,
                "source": source,
                "type": mapped.type,
                "subject": topic,
                "time": mapped.time if mapped.time is not None else _iso(arrived),
                "datacontenttype": "application/json",
                "data": mapped.data,
            }
            return [parse_event(event, fallback_source=source)]
        if problem is None:
            what = "a JSON object without specversion" if isinstance(obj, dict) else "not a JSON object"
            problem = f"not a CloudEvent ({what}) and no mqtt.topics entry matches the topic {topic!r}"
        elif self.mapping is None or not self.mapping.topics:
            problem += f" (and no mqtt.topics entry matches the topic {topic!r})"
        return [self._reject(topic, payload, source, content_id, problem)]

    def _binary(
        self, props: dict[str, str], content_type: str | None, payload: bytes, source: str, topic: str, content_id: str
    ) -> dict:
        """The CloudEvents MQTT binding's binary mode: attributes as user properties, data as the payload."""
        obj: dict[str, Any] = dict(props)
        if content_type:
            obj["datacontenttype"] = content_type
        kind = (content_type or "application/json").lower()
        if payload:
            if "json" not in kind:
                obj["data"] = payload.decode("utf-8", "replace")[:KEPT_PAYLOAD_CHARS]  # the envelope names the type
            else:
                try:
                    obj["data"] = loads_lenient(payload.decode("utf-8").removeprefix("\ufeff"), descend="{")
                except (UnicodeDecodeError, ValueError) as exc:
                    event = self._structured({**obj, "data": {}}, source)
                    event["raw"] = {**obj, "data": payload.decode("utf-8", "replace")[:KEPT_PAYLOAD_CHARS]}
                    event["error"] = f"the payload (data) is not valid JSON: {exc}"
                    return event
        return self._structured(obj, source)


# ---------------------------------------------------------------------------------------------- the feed


@dataclass
class _Received:
    generation: int  # which connection it came on: an ack belongs to that connection only
    message: mqtt.MQTTMessage
    arrived: datetime


class MqttFeed(Feed):
    """A topic filter on an MQTT broker, as a feed (see the module's docstring).

    A poll waits up to `wait` seconds for the first message (so an idle follower listens rather than
    sleeps), then takes messages in batches (a batch ends when none came for `linger` seconds), applying
    and acknowledging each, for as long as the next one comes within `gap` seconds, and at most `poll_cap`
    seconds (then it says catching up if more are waiting, and is asked again at once). So a steady stream
    is applied as it comes, and a poll still returns often enough for its caller to tell the console."""

    # A poll waits for messages itself: a follower may call it again at once instead of sleeping between polls.
    listens = True

    def __init__(
        self,
        store: Store,
        url: str,
        *,
        timeout: float = 5.0,
        wait: float = 0.5,
        linger: float = 0.01,
        gap: float = 0.2,
        poll_cap: float = 1.0,
        keepalive: int = 30,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
        client_id: str | None = None,
        mqtt_settings: MqttSettings | None = None,
        retries: int = 0,  # what `events pull` gives every feed; reconnecting is the feed's own business
        **opts: Any,
    ):
        self.address = parse_url(url)
        check_filter(self.address.topic, self.address.shown)
        super().__init__(store, self.address.shown, **opts)
        if mqtt_settings is None:
            mqtt_settings = settings.current().mqtt
        self.mapping = mqtt_settings if isinstance(mqtt_settings, MqttSettings) else None
        if self.mapping is not None:
            _check_mapping(self.mapping)
        self.client_id = client_id or (self.mapping.client_id if self.mapping else None)
        self.client_id = self.client_id or default_client_id(store, self.feed)
        self.session_expiry = self.mapping.session_expiry if self.mapping else mqtt_topics.DEFAULT_SESSION_EXPIRY
        self.timeout, self.wait, self.linger, self.gap, self.poll_cap = timeout, wait, linger, gap, poll_cap
        self.keepalive, self.backoff, self.backoff_max = keepalive, backoff, backoff_max
        self._converter = _Converter(self.address, self.mapping)
        self._queue: queue.Queue[_Received] = queue.Queue()
        self._pending: list[_Received] = []  # taken, not yet committed (the store failed): tried again first
        self._state_lock = threading.Lock()
        self._generation = 0
        self._connected = False
        self._connack = threading.Event()
        self._connack_error: str | None = None
        self._suback = threading.Event()
        self._suback_error: str | None = None
        self._lost: str | None = None  # why the last connection ended
        self._failures = 0
        self._next_attempt = 0.0
        self._last_error: str | None = None
        self._started = False
        self._closed = False
        self.client = _new_client(self.address, self.client_id, timeout=timeout, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # --- paho's network thread: record, never raise -------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._connack_error = f"the broker refused the connection: {_reason_text(reason_code)}"
        else:
            with self._state_lock:
                self._generation += 1
                self._connected = True
            self._connack_error = None
        self._connack.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._state_lock:
            self._connected = False
        if not self._closed:
            self._lost = f"the connection to the broker was lost ({_reason_text(reason_code)})"
        self._connack.set()
        self._suback.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        bad = [code for code in reason_codes if code.is_failure]
        self._suback_error = (
            f"the broker refused the subscription to {self.address.topic!r}: {_reason_text(bad[0])}" if bad else None
        )
        self._suback.set()

    def _on_message(self, client, userdata, message) -> None:
        self._queue.put(_Received(self._generation, message, self.clock()))

    # --- the connection ------------------------------------------------------------------------------

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry
        # How many unacknowledged messages the broker may send at once: they wait for one batch's commit.
        props.ReceiveMaximum = max(1, min(self.apply_batch, 1000))
        return props

    def _ensure_connected(self) -> None:
        with self._state_lock:
            if self._connected:
                return
        now = time.monotonic()
        if now < self._next_attempt:
            raise _FeedTrouble(f"{self._last_error}; trying again in {self._next_attempt - now:.0f} s")
        try:
            self._connect()
        except _FeedTrouble as exc:
            self._failures += 1
            delay = min(self.backoff_max, self.backoff * (2 ** (self._failures - 1)))
            self._next_attempt = time.monotonic() + delay
            self._last_error = str(exc)
            self._drop_connection()
            raise
        self._failures = 0
        self._lost = None

    def _connect(self) -> None:
        self.client.loop_stop()  # the thread of a lost connection has ended; join it
        self._connack.clear()
        self._suback.clear()
        self._connack_error = self._suback_error = None
        try:
            if not self._started:
                self._started = True
                self.client.connect(
                    self.address.host,
                    self.address.port,
                    keepalive=self.keepalive,
                    clean_start=False,  # resume the session: what was queued while we were away comes now
                    properties=self._connect_properties(),
                )
            else:
                self.client.reconnect()
        except (OSError, ssl.SSLError) as exc:
            raise _FeedTrouble(_connect_message(exc, self.address)) from None
        except ValueError as exc:  # paho: an invalid host or port
            raise _FeedTrouble(f"cannot connect to the broker: {exc}") from None
        self.client.loop_start()
        if not self._connack.wait(self.timeout):
            raise _FeedTrouble(
                f"the broker at {self.address.host}:{self.address.port} did not answer in {self.timeout:g} s"
            )
        if self._connack_error or not self._connected:
            raise _FeedTrouble(self._connack_error or self._lost or "the broker closed the connection")
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        result, _mid = self.client.subscribe(self.address.topic, options=options)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise _FeedTrouble(f"cannot subscribe to {self.address.topic!r}: {mqtt.error_string(result)}")
        if not self._suback.wait(self.timeout):
            raise _FeedTrouble(f"the broker did not confirm the subscription in {self.timeout:g} s")
        if self._suback_error or not self._connected:
            raise _FeedTrouble(self._suback_error or self._lost or "the broker closed the connection")

    def _drop_connection(self) -> None:
        try:
            self.client.disconnect()
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.client.loop_stop()
        with self._state_lock:
            self._connected = False

    # --- polling -------------------------------------------------------------------------------------

    def _take(self, wait: float) -> list[_Received]:
        taken: list[_Received] = []
        try:
            taken.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
        except queue.Empty:
            return taken
        while len(taken) < self.apply_batch:
            try:
                taken.append(self._queue.get(timeout=self.linger))
            except queue.Empty:
                break
        return taken

    def _poll(self, progress: _Progress) -> None:
        trouble: _FeedTrouble | None = None
        try:
            self._ensure_connected()
        except _FeedTrouble as exc:
            trouble = exc
        started = time.monotonic()
        taken_in_all = 0
        wait = self.wait if trouble is None else 0.0
        while True:
            batch, self._pending = self._pending, []
            batch += self._take(wait) if len(batch) < self.apply_batch else []
            if not batch:
                break
            self._apply_and_ack(progress, batch)
            taken_in_all += len(batch)
            if taken_in_all >= self.max_events_per_poll or time.monotonic() - started >= self.poll_cap:
                progress.more = not self._queue.empty()  # behind a stream: asked again at once
                break
            wait = self.gap
        if trouble is None and self._lost is not None:
            with self._state_lock:
                lost = not self._connected
            if lost:
                trouble = _FeedTrouble(f"{self._lost}; reconnecting")
        if trouble is not None:
            raise trouble

    def _apply_and_ack(self, progress: _Progress, batch: list[_Received]) -> None:
        events: list[dict] = []
        for received in batch:
            events += self._converter.events(received.message, received.arrived)
        try:
            # Not paged: duplicates are told by source+id only. Sequences on MQTT are each producer's own
            # (topics interleave), so the feed-wide cursor of an HTTP feed must not drop events below it.
            self._apply(progress, events, paged=False)
        except _FeedTrouble:
            self._pending = batch
            raise
        with self._state_lock:
            generation, connected = self._generation, self._connected
        if not connected:
            return  # the broker delivers them again on the next connection; they are duplicates then
        for received in batch:
            if received.generation == generation and received.message.qos > 0:
                self.client.ack(received.message.mid, received.message.qos)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._started:
            self._drop_connection()


def _check_mapping(mapping: MqttSettings) -> None:
    """The topic maps' event types checked against the store's registry: BadRequest naming the setting."""
    try:
        mqtt_topics.check_types(mapping, {name: event_type.keys for name, event_type in REGISTRY.items()})
    except TopicMapError as bad:
        source = settings.current().sources.get("mqtt", "")
        where = source[5:] if source.startswith("file:") else "the settings"
        raise BadRequest(f"{where}: key 'mqtt.{bad.key}': {bad.why}, got {bad.value!r}") from None


# ---------------------------------------------------------------------------------------------- publishing


def _binary_properties(event: dict) -> tuple[Properties, bytes]:
    props = Properties(PacketTypes.PUBLISH)
    props.ContentType = str(event.get("datacontenttype") or "application/json")
    props.UserProperty = [
        (name, value if isinstance(value, str) else json.dumps(value))
        for name, value in event.items()
        if name not in ("data", "data_base64", "datacontenttype") and value is not None
    ]
    return props, json.dumps(event.get("data"), ensure_ascii=False).encode()


def publish_events(
    url: str,
    events: Iterable[dict],
    *,
    offsets: Iterable[float] | None = None,
    binary: bool = False,
    qos: int = 1,
    restamp: Callable[[], datetime] | None = None,
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Publish `events` (structured CloudEvents dicts) to the broker of `url`, the n-th at `offsets[n]` seconds
    after the start. The URL's path is the topic; `{type}` in it becomes each event's type. Binary mode puts
    the attributes in MQTT 5 user properties. `restamp` gives each event the time it is published. Returns
    how many were published; FeedUnavailable when the broker cannot be reached or stops confirming."""
    address = parse_url(url)
    if "+" in address.topic.split("/") or "#" in address.topic:
        raise BadRequest(
            f"{address.shown}: a topic to publish to has no wildcards ('+', '#'); {{type}} may stand in it"
        )
    client_id = f"planner-tui-publish-{socket.gethostname()[:20]}-{threading.get_native_id()}-{time.time_ns() % 10**6}"
    client = _new_client(address, client_id, timeout=timeout, manual_ack=False)
    connected = threading.Event()
    refused: list[str] = []

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            refused.append(f"the broker refused the connection: {_reason_text(reason_code)}")
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(address.host, address.port, keepalive=30)
    except (OSError, ssl.SSLError) as exc:
        raise FeedUnavailable(_connect_message(exc, address)) from None
    client.loop_start()
    count = 0
    try:
        if not connected.wait(timeout):
            raise FeedUnavailable(f"the broker at {address.host}:{address.port} did not answer in {timeout:g} s")
        if refused:
            raise FeedUnavailable(refused[0])
        start = time.monotonic()
        for event, offset in zip(events, offsets if offsets is not None else _zeros(), strict=False):
            delay = offset - (time.monotonic() - start)
            if delay > 0:
                sleep(delay)
            if restamp is not None:
                event = {**event, "time": _iso(restamp())}
            topic = address.topic.replace("{type}", str(event.get("type") or "unknown"))
            if binary:
                props, payload = _binary_properties(event)
            else:
                props = Properties(PacketTypes.PUBLISH)
                props.ContentType = EVENT_CONTENT_TYPE
                payload = json.dumps(event, ensure_ascii=False).encode()
            info = client.publish(topic, payload, qos=qos, properties=props)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError) as exc:
                raise FeedUnavailable(f"publishing to {address.shown} failed: {exc}") from None
            if not info.is_published():
                raise FeedUnavailable(f"the broker did not confirm event {count + 1} in {timeout:g} s")
            count += 1
    finally:
        client.disconnect()
        client.loop_stop()
    return count


def _zeros() -> Iterable[float]:
    while True:
        yield 0.0


__all__ = ["MqttAddress", "MqttFeed", "check_filter", "parse_url", "publish_events"]
