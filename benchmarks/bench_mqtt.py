"""Benchmark events over MQTT: publish -> queryable in the store. Target p99 < 250 ms on loopback.

    python benchmarks/bench_mqtt.py                       # the large plant, 500 events at ~50/s
    python benchmarks/bench_mqtt.py --quick               # a small generated plant (scale 0.02)
    python benchmarks/bench_mqtt.py --events 2000 --rate 200 --poll 0 0.1 2

A mosquitto of its own (tests/mqttkit.py; Debian's package, installed when missing) listens on loopback. The
plant is copied into a temporary DuckDB file; an MqttFeed (QoS 1, persistent session, acknowledged after each
commit) is followed by a thread as `serve --events` follows a feed: poll, then sleep what is left of --poll
seconds (0: poll again at once, as a follower of a feed that waits for messages itself may). A producer
publishes bench_events.py's realistic mix over the plant's own ids (structured CloudEvents, QoS 1) with Poisson
arrivals at --rate a second, and an observer with its own cursor reads the event log every 5 ms and notes
when each event first becomes visible. Reported per --poll: p50/p99/max of visible - published (the moment
`publish` was called), and how many were applied, rejected (the mix holds a few bad ones on purpose) or lost.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import mqttkit  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
from bench_events import EventMaker, load_plant  # noqa: E402
from plant import large_plant  # noqa: E402

from planner_tui.feeds.mqtt import MqttFeed  # noqa: E402
from planner_tui.mqtt_topics import MqttSettings  # noqa: E402
from planner_tui.store import Store  # noqa: E402


def publish_one(broker: mqttkit.Broker, topic: str, payload: bytes) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(30)
    client.disconnect()
    client.loop_stop()


def bench(
    store: Store, maker: EventMaker, broker: mqttkit.Broker, *, n: int, rate: float, poll: float, run: int
) -> dict:
    topic = f"bench/run{run}"
    feed = MqttFeed(store, f"{broker.url}/{topic}/%23", mqtt_settings=MqttSettings(), timeout=5)
    first = feed.poll_once()  # connects and subscribes: the session exists before the first publish
    assert first.status.state == "live", first.status.last_error
    # Not timed: the first apply on a large plant creates the lookup indexes (about a second, once).
    warm = maker.events(1, prefix=f"warm{run}", start_seq=1, start_time=datetime(2026, 11, 23, 6, 0), spacing=0)
    publish_one(broker, f"{topic}/warm", json.dumps(warm[0]).encode())
    for _ in range(100):
        warmed = feed.poll_once().result
        if warmed is not None and warmed.received:
            break
    events = maker.events(n, prefix=f"mqtt{run}", start_seq=1, start_time=datetime(2026, 11, 23, 6, 0), spacing=0)
    ids = {event["id"]: i for i, event in enumerate(events)}
    published: dict[int, float] = {}
    seen: dict[int, float] = {}
    stop = threading.Event()

    def follower() -> None:
        while not stop.is_set():
            started = time.monotonic()
            outcome = feed.poll_once()
            if poll and not (outcome.status.state == "catching_up" and outcome.applied):
                stop.wait(max(0.05, poll - (time.monotonic() - started)))

    def observer() -> None:
        cur = store.cursor()
        last = -1
        while not stop.is_set() and len(seen) < n:
            rows = cur.execute(
                "SELECT rowid, event_id FROM event_log WHERE rowid > ? AND feed = ?", [last, feed.feed]
            ).fetchall()
            now = time.monotonic()
            for rowid, event_id in rows:
                last = max(last, rowid)
                if event_id in ids:
                    seen.setdefault(ids[event_id], now)
            time.sleep(0.005)
        cur.close()

    threads = [threading.Thread(target=follower, daemon=True), threading.Thread(target=observer, daemon=True)]
    for thread in threads:
        thread.start()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    rng = random.Random(run)
    payloads = [json.dumps(event).encode() for event in events]  # encoded before the clock starts
    infos: list[mqtt.MQTTMessageInfo] = []
    next_at = time.monotonic()
    for i, payload in enumerate(payloads):
        next_at += rng.expovariate(rate)  # Poisson arrivals: bursts and lulls, like a floor
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        published[i] = time.monotonic()
        infos.append(client.publish(f"{topic}/{events[i]['type']}", payload, qos=1))
    for info in infos:  # paho holds back what is beyond its in-flight window: a disconnect now would drop it
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    deadline = time.monotonic() + 10 + 5 * poll
    while len(seen) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    cur = store.cursor()
    outcomes = dict(
        cur.execute(
            "SELECT outcome, count(*) FROM event_log WHERE feed = ? AND starts_with(event_id, ?) GROUP BY 1",
            [feed.feed, f"mqtt{run}-"],
        ).fetchall()
    )
    cur.close()
    feed.close()
    latencies = sorted(seen[i] - published[i] for i in seen)
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)  # noqa: E731
    return {
        "events": n,
        "visible": len(seen),
        "poll": poll,
        "p50_ms": pick(0.5),
        "p99_ms": pick(0.99),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "outcomes": outcomes,
        "status": feed.status.describe(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="a Parquet plant (default: the large plant)")
    parser.add_argument("--quick", action="store_true", help="a small generated plant (--scale)")
    parser.add_argument("--scale", type=float, default=0.02, help="the --quick plant's scale")
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="events a second (Poisson arrivals)")
    parser.add_argument("--poll", type=float, nargs="+", default=[0.0, 0.1], help="the follower's poll seconds")
    args = parser.parse_args()
    reason = mqttkit.tools_reason()
    if reason:
        sys.exit(f"no broker: {reason}")
    print(f"command: python {' '.join(sys.argv)}", flush=True)
    print(
        f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        f"at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp_name,
        mqttkit.Broker(Path(tmp_name) / "broker") as broker,
    ):
        tmp = Path(tmp_name)
        data = args.data or (None if args.quick else large_plant())
        if data is None:
            from planner_tui.generate import generate_plant

            data = tmp / "plant"
            generate_plant(data, scale=args.scale, seed=1)
        store = Store.open(tmp / "bench.db")
        counts = load_plant(store, data)
        print(
            f"plant {data}: {counts.get('machines', 0):,} machines, {counts.get('operations', 0):,} operations; "
            f"mosquitto on 127.0.0.1:{broker.port}",
            flush=True,
        )
        maker = EventMaker(store)
        for run, poll in enumerate(args.poll):
            report = bench(store, maker, broker, n=args.events, rate=args.rate, poll=poll, run=run)
            print(
                f"publish-to-queryable, {report['visible']:,}/{report['events']:,} events at ~{args.rate:g}/s, "
                f"follower poll {poll:g} s: p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms, "
                f"max {report['max_ms']} ms (mean {report['mean_ms']} ms; {report['outcomes']}; "
                f"feed {report['status']})",
                flush=True,
            )
        store.close()


if __name__ == "__main__":
    main()
