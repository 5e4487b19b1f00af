#!/usr/bin/env python3
"""Example consumer of the relay's NATS JetStream events.

Connects to NATS, creates (or reuses) a durable pull consumer on the relay's stream,
fetches messages in batches, turns each into a CloudEvent with the official CloudEvents
SDK, drops events it has already handled (by CloudEvent `id`), prints one line per
event and acks each message after handling it.

    pip install -r requirements.txt
    NATS_URL=nats://127.0.0.1:4222 python consumer.py

Settings (environment):
    NATS_URL          nats://127.0.0.1:4222 (a comma-separated list is fine)
    NATS_USER / NATS_PASSWORD, NATS_TOKEN, NATS_CREDS   optional authentication
    STREAM            PORTAL_EVENTS          (the sink's `stream`)
    SUBJECT_FILTER    portal.events.>        (the sink's `subject_prefix` + ".>")
    DURABLE           portal-events-printer  (the consumer's name: the server remembers
                                              its position across restarts)
    BATCH             64                     messages per fetch
    SEEN_IDS          100000                 ids remembered for de-duplication

Delivery is at least once, twice over: the relay may publish an event again after a
restart (it replays from the last confirmed WAL position), and JetStream drops a
re-published `Nats-Msg-Id` only inside the stream's duplicate window (2 minutes by
default); JetStream may also redeliver a message whose ack got lost. So a consumer
must be idempotent. This example keeps the ids it has seen in a bounded in-memory LRU,
which is enough to show the idea but forgets everything on restart. A real consumer
records processed ids durably, in the same transaction as the effect of the event
(e.g. a `processed_events(id primary key)` table next to the data it changes, inserted
with ON CONFLICT DO NOTHING), or makes the effect itself idempotent.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import OrderedDict

import nats
import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
STREAM = os.environ.get("STREAM", "PORTAL_EVENTS")
SUBJECT_FILTER = os.environ.get("SUBJECT_FILTER", "portal.events.>")
DURABLE = os.environ.get("DURABLE", "portal-events-printer")
BATCH = int(os.environ.get("BATCH", "64"))
SEEN_IDS = int(os.environ.get("SEEN_IDS", "100000"))


class SeenIds:
    """The last `capacity` event ids, least recently seen evicted first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def check_and_add(self, event_id: str) -> bool:
        """True if the id was seen before; remembers it either way."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return True
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return False


def header(headers: dict[str, str] | None, name: str) -> str | None:
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return v
    return None


def to_cloudevent(msg: nats.aio.msg.Msg) -> CloudEvent:
    """A NATS message in the structured content mode of the CloudEvents NATS binding:
    the Content-Type header is the event format, the body is the whole JSON envelope.
    The SDK has no NATS binding of its own, so we check the header and hand the body
    to its JSON event format (which validates the CloudEvents 1.0 attributes)."""
    content_type = (header(msg.headers, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type != JSONFormat.CONTENT_TYPE:
        raise ValueError(f"Content-Type {content_type!r} is not {JSONFormat.CONTENT_TYPE}")
    return JSONFormat().read(CloudEvent, msg.data)


def handle(event: CloudEvent, nats_subject: str) -> None:
    """The business logic goes here. This example prints one line per event."""
    time = event.get_time()
    print(
        f"{time.isoformat() if time else '-'} {event.get_type()} "
        f"subject={event.get_subject()} id={event.get_id()} "
        f"commitlsn={event.get_extension('commitlsn')} nats_subject={nats_subject}",
        flush=True,
    )


async def connect() -> nats.NATS:
    opts: dict = {"servers": NATS_URL.split(","), "name": "portal-events-example-consumer"}
    if os.environ.get("NATS_USER"):
        opts["user"] = os.environ["NATS_USER"]
        opts["password"] = os.environ.get("NATS_PASSWORD", "")
    if os.environ.get("NATS_TOKEN"):
        opts["token"] = os.environ["NATS_TOKEN"]
    if os.environ.get("NATS_CREDS"):
        opts["user_credentials"] = os.environ["NATS_CREDS"]
    while True:
        try:
            return await nats.connect(max_reconnect_attempts=-1, **opts)
        except Exception as e:  # broker not up yet
            print(f"waiting for NATS at {NATS_URL}: {e!r}", file=sys.stderr, flush=True)
            await asyncio.sleep(2)


async def subscribe(js: nats.js.JetStreamContext, stop: asyncio.Event):
    """The durable pull consumer. The relay creates the stream on its first start
    (create_stream = true), so wait for it."""
    config = ConsumerConfig(
        durable_name=DURABLE,
        filter_subject=SUBJECT_FILTER,
        deliver_policy=DeliverPolicy.ALL,   # a new consumer starts at the stream's beginning
        ack_policy=AckPolicy.EXPLICIT,      # redelivered after ack_wait unless acked
        ack_wait=30,
        max_ack_pending=1000,
    )
    while not stop.is_set():
        try:
            return await js.pull_subscribe(SUBJECT_FILTER, durable=DURABLE, stream=STREAM, config=config)
        except nats.js.errors.NotFoundError:
            print(f"waiting for stream {STREAM}", file=sys.stderr, flush=True)
            await asyncio.sleep(2)
    return None


async def main() -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    nc = await connect()
    js = nc.jetstream()
    sub = await subscribe(js, stop)
    print(f"consuming {SUBJECT_FILTER} from stream {STREAM} as durable {DURABLE}", file=sys.stderr, flush=True)
    seen = SeenIds(SEEN_IDS)
    while sub is not None and not stop.is_set():
        try:
            msgs = await sub.fetch(BATCH, timeout=2)
        except nats.errors.TimeoutError:
            continue  # nothing new within 2 s (also how often a stop request is noticed)
        except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError):
            await asyncio.sleep(1)
            continue
        for msg in msgs:
            try:
                event = to_cloudevent(msg)
            except Exception as e:
                # Not an event we can ever read: tell the server to stop redelivering it.
                seq = msg.metadata.sequence.stream
                print(f"stream seq {seq} on {msg.subject} is not a CloudEvent ({e}); terminating it",
                      file=sys.stderr, flush=True)
                await msg.term()
                continue
            if seen.check_and_add(event.get_id()):
                print(f"duplicate {event.get_id()} skipped", file=sys.stderr, flush=True)
            else:
                handle(event, msg.subject)
            await msg.ack()  # after handling: a crash before this line means redelivery
    await nc.flush()  # the last acks
    await nc.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
