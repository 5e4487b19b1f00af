#!/usr/bin/env python3
"""Read a whole SQS queue back with boto3 and check every message is a relay CloudEvent.

Used by the SQS end-to-end tests as an independent reader: AWS's own Python SDK and
the official CloudEvents SDK look at what the relay sent.

    python read_sqs.py --endpoint http://127.0.0.1:PORT --queue-url URL --expect N [--timeout 60]

What it does:
  1. receives messages (10 at a time, long visibility timeout) and deletes each batch
     (a FIFO group hands out its next message only after the previous ones are deleted),
     until --expect messages were read and two receives in a row came back empty, or
     --timeout passed;
  2. checks each one: attribute `Content-Type: application/cloudevents+json` (structured
     mode, the CloudEvents Go SDK's SQS convention), `ce-id`/`ce-type`/`ce-subject`/
     `ce-specversion`/`ce-source` equal to the body's attributes, a body the SDK parses as
     a CloudEvents 1.0 JSON event; on FIFO queues MessageDeduplicationId = ce-id;
  3. prints ONE JSON object on stdout:
       {"count": N, "unique_ids": N, "events": [{"id", "subject", "type", "commitlsn",
        "group", "seq", "data_enrichment"}...]}  # in receive order (FIFO: per group in order)

Exit status: 0 all good; 1 a message failed a check (one line each on stderr);
3 fewer than --expect after --timeout (the JSON is still printed).
Credentials: any (the emulator accepts any unless started with AUTH=true; then `test`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import boto3
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

CE_JSON = JSONFormat.CONTENT_TYPE


def attr(m: dict, name: str) -> str | None:
    v = (m.get("MessageAttributes") or {}).get(name)
    return None if v is None else v.get("StringValue")


def check(m: dict, fifo: bool) -> tuple[CloudEvent, list[str]]:
    problems = []
    if attr(m, "Content-Type") != CE_JSON:
        problems.append(f"Content-Type attribute is {attr(m, 'Content-Type')!r}")
    event = JSONFormat().read(CloudEvent, m["Body"].encode())
    for name, value in [
        ("ce-id", event.get_id()),
        ("ce-type", event.get_type()),
        ("ce-subject", event.get_subject()),
        ("ce-source", event.get_source()),
        ("ce-specversion", "1.0"),
    ]:
        if attr(m, name) != value:
            problems.append(f"{name} attribute {attr(m, name)!r} != {value!r}")
    if fifo and m["Attributes"].get("MessageDeduplicationId") != event.get_id():
        problems.append("MessageDeduplicationId is not the event id")
    return event, problems


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--queue-url", required=True)
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    sqs = boto3.client("sqs", endpoint_url=args.endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    fifo = args.queue_url.endswith(".fifo")
    deadline = time.monotonic() + args.timeout
    msgs: list[dict] = []
    empty = 0
    while True:
        r = sqs.receive_message(QueueUrl=args.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                VisibilityTimeout=600, MessageAttributeNames=["All"],
                                MessageSystemAttributeNames=["All"])
        batch = r.get("Messages", [])
        if batch:
            empty = 0
            msgs.extend(batch)
            sqs.delete_message_batch(QueueUrl=args.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
        else:
            empty += 1
        if len(msgs) >= args.expect and empty >= 2:
            break
        if time.monotonic() >= deadline and not batch:
            break
    events, ids, bad = [], set(), 0
    for m in msgs:
        try:
            event, problems = check(m, fifo)
        except Exception as e:  # JSON errors, CloudEventValidationError, …
            event, problems = None, [f"not a CloudEvents 1.0 JSON event: {type(e).__name__}: {e}"]
        if problems:
            bad += 1
            for pr in problems:
                print(f"read_sqs: message {m['MessageId']}: {pr}", file=sys.stderr)
            continue
        ids.add(event.get_id())
        data = event.get_data() if isinstance(event.get_data(), dict) else {}
        events.append({
            "id": event.get_id(),
            "subject": event.get_subject(),
            "type": event.get_type(),
            "commitlsn": event.get_extension("commitlsn"),
            "group": m["Attributes"].get("MessageGroupId"),
            "seq": m["Attributes"].get("SequenceNumber"),
            "data_enrichment": data.get("enrichment"),
        })
    json.dump({"count": len(msgs), "unique_ids": len(ids), "events": events}, sys.stdout)
    sys.stdout.write("\n")
    if bad:
        print(f"read_sqs: {bad} of {len(msgs)} messages failed the checks", file=sys.stderr)
        return 1
    if len(msgs) < args.expect:
        print(f"read_sqs: expected {args.expect} messages, read {len(msgs)}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
