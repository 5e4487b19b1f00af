#!/usr/bin/env python3
"""Read a whole JetStream stream back and check every message is a relay CloudEvent.

Used by the NATS end-to-end test as an independent reader: a different client library
(nats-py) and the official CloudEvents SDK (`cloudevents`, v2 API) look at what the
relay published, so the test does not only trust the relay's own encoder.

    python check_stream.py --url nats://127.0.0.1:PORT --stream PORTAL_EVENTS \
        --subject-filter 'portal.events.>' --expect 5 [--timeout 30]

What it does:
  1. waits (up to --timeout seconds) until the stream exists and holds at least
     --expect messages on subjects matching --subject-filter;
  2. reads ALL of them in stream order through an ephemeral pull consumer
     (deliver policy "all", no acks, in-memory, removed by the server when idle);
  3. checks each one: header `Content-Type: application/cloudevents+json`
     (structured content mode of the CloudEvents NATS binding), a `Nats-Msg-Id` header
     equal to the CloudEvent `id`, and a body that the SDK parses as a CloudEvents 1.0
     event (JSON event format);
  4. prints ONE JSON object on stdout:
       {"count": <messages read>, "unique_ids": <distinct CloudEvent ids>,
        "events": [{"id", "subject" (CloudEvents subject), "type", "commitlsn",
                    "stream_seq", "nats_subject"}, ...]}        # in stream order
     Messages that failed a check are counted in "count" but not listed in "events".

Exit status: 0 all good; 1 some message failed a check (one line per problem on
stderr); 2 bad arguments, NATS unreachable or the stream never appeared; 3 fewer than
--expect messages after --timeout (the JSON is still printed). More messages than
--expect is not an error: delivery is at least once, so the caller decides what
duplicates it accepts ("count" vs "unique_ids").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

CLOUDEVENTS_JSON = JSONFormat.CONTENT_TYPE  # "application/cloudevents+json"
FETCH_BATCH = 256


def media_type(value: str | None) -> str | None:
    """`application/cloudevents+json; charset=utf-8` -> `application/cloudevents+json`."""
    if value is None:
        return None
    return value.split(";", 1)[0].strip().lower()


def header(headers: dict[str, str] | None, name: str) -> str | None:
    """NATS header names are case-sensitive on the wire; accept any case here."""
    for k, v in (headers or {}).items():
        if k.lower() == name.lower():
            return v
    return None


def parse_event(headers: dict[str, str] | None, body: bytes) -> tuple[CloudEvent, str]:
    """Structured-mode CloudEvent from a NATS message, as the CloudEvents NATS binding
    defines it: the Content-Type header names the event format and the body is the
    whole envelope. Returns (event, Nats-Msg-Id). Raises ValueError with the reason."""
    ct = header(headers, "Content-Type")
    if media_type(ct) != CLOUDEVENTS_JSON:
        raise ValueError(f"Content-Type is {ct!r}, expected {CLOUDEVENTS_JSON!r}")
    msg_id = header(headers, "Nats-Msg-Id")
    if not msg_id:
        raise ValueError("no Nats-Msg-Id header")
    try:
        # The SDK's JSON event format; the v1.0 factory validates every attribute.
        event = JSONFormat().read(CloudEvent, body)
    except Exception as e:  # JSON errors, CloudEventValidationError, bad time, ...
        raise ValueError(f"not a CloudEvents 1.0 JSON event: {type(e).__name__}: {e}") from None
    if event.get_id() != msg_id:
        raise ValueError(f"Nats-Msg-Id {msg_id!r} differs from the CloudEvent id {event.get_id()!r}")
    return event, msg_id


async def wait_for_stream(js: Any, stream: str, subject_filter: str, expect: int, deadline: float) -> int:
    """Wait until the stream exists and holds >= expect messages matching the filter;
    return how many it holds (may be fewer if the deadline passed)."""
    while True:
        try:
            info = await js.stream_info(stream, subjects_filter=subject_filter)
            held = sum((info.state.subjects or {}).values())
            if held >= expect or time.monotonic() >= deadline:
                return held
        except nats.js.errors.NotFoundError:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.1)


async def read_all(js: Any, stream: str, subject_filter: str, expect: int, deadline: float) -> list[Any]:
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        mem_storage=True,
        inactive_threshold=30.0,
    )
    sub = await js.pull_subscribe(subject_filter, stream=stream, config=config)
    msgs: list[Any] = []
    try:
        while True:
            left = deadline - time.monotonic()
            try:
                batch = await sub.fetch(FETCH_BATCH, timeout=max(0.2, min(1.0, left)))
            except nats.errors.TimeoutError:
                batch = []
            msgs.extend(batch)
            if batch:
                pending = batch[-1].metadata.num_pending
            else:
                pending = (await sub.consumer_info()).num_pending
            if pending == 0 and len(msgs) >= expect:
                return msgs
            if time.monotonic() >= deadline and not batch:
                return msgs
    finally:
        try:
            await sub.unsubscribe()
            await js.delete_consumer(stream, sub._consumer)  # ephemeral: tidy up now
        except Exception:
            pass  # the server removes it after inactive_threshold anyway


async def run(args: argparse.Namespace) -> int:
    deadline = time.monotonic() + args.timeout
    errors: list[str] = []

    async def on_error(e: Exception) -> None:  # keep nats-py from printing tracebacks
        errors.append(f"{type(e).__name__}: {e}")

    try:
        nc = await nats.connect(
            args.url,
            connect_timeout=min(5.0, args.timeout),
            max_reconnect_attempts=3,
            error_cb=on_error,
        )
    except Exception as e:
        detail = f" ({errors[-1]})" if errors else ""
        print(f"check_stream: cannot connect to {args.url}: {type(e).__name__}{detail}", file=sys.stderr)
        return 2
    try:
        js = nc.jetstream()
        try:
            await wait_for_stream(js, args.stream, args.subject_filter, args.expect, deadline)
        except nats.js.errors.NotFoundError:
            print(f"check_stream: stream {args.stream} does not exist after {args.timeout}s", file=sys.stderr)
            return 2
        msgs = await read_all(js, args.stream, args.subject_filter, args.expect, deadline)
    finally:
        await nc.close()

    events = []
    ids = set()
    problems = 0
    for m in msgs:
        seq = m.metadata.sequence.stream
        try:
            event, _ = parse_event(m.headers, m.data)
        except ValueError as e:
            problems += 1
            print(f"check_stream: stream seq {seq} (subject {m.subject}): {e}", file=sys.stderr)
            continue
        ids.add(event.get_id())
        events.append(
            {
                "id": event.get_id(),
                "subject": event.get_subject(),
                "type": event.get_type(),
                "commitlsn": event.get_extension("commitlsn"),
                "stream_seq": seq,
                "nats_subject": m.subject,
            }
        )
    json.dump({"count": len(msgs), "unique_ids": len(ids), "events": events}, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    if problems:
        print(f"check_stream: {problems} of {len(msgs)} messages failed the checks", file=sys.stderr)
        return 1
    if len(msgs) < args.expect:
        print(
            f"check_stream: expected at least {args.expect} messages on {args.subject_filter} "
            f"in {args.stream}, found {len(msgs)} after {args.timeout}s",
            file=sys.stderr,
        )
        return 3
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--url", required=True, help="NATS server URL, e.g. nats://127.0.0.1:4222")
    p.add_argument("--stream", required=True, help="JetStream stream name, e.g. PORTAL_EVENTS")
    p.add_argument("--subject-filter", required=True, help="subjects to read, e.g. 'portal.events.>'")
    p.add_argument("--expect", type=int, default=0, help="wait until at least this many messages are there")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for them (default 30)")
    args = p.parse_args()
    if args.expect < 0 or args.timeout <= 0:
        p.error("--expect must be >= 0 and --timeout > 0")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
