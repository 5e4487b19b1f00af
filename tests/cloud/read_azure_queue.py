#!/usr/bin/env python3
"""Read a whole Azure Storage queue back with Microsoft's azure-storage-queue and check
every message is a relay CloudEvent.

    python read_azure_queue.py --connection-string CS --queue NAME --expect N \
        [--encoding base64|none] [--timeout 60]

What it does:
  1. receives messages (32 at a time) with a visibility timeout longer than the run, so
     each stored message is handed out once (no deletes: half the requests), until
     --expect were read and two receives in a row came back empty, or --timeout passed;
  2. decodes each (TextBase64DecodePolicy for base64, what Azure Functions does) and
     parses it with the CloudEvents SDK as a CloudEvents 1.0 JSON event;
  3. prints ONE JSON object on stdout:
       {"count": N, "unique_ids": N, "events": [{"id", "subject", "type", "commitlsn",
        "bytes", "data_enrichment", "data"}...]}   # "data" only with --with-data

Exit status: 0 all good; 1 a message failed a check; 3 fewer than --expect.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from azure.storage.queue import QueueClient, TextBase64DecodePolicy
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--connection-string", required=True)
    p.add_argument("--queue", required=True)
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--encoding", choices=["base64", "none"], default="base64")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--with-data", action="store_true")
    args = p.parse_args()
    policy = TextBase64DecodePolicy() if args.encoding == "base64" else None
    q = QueueClient.from_connection_string(args.connection_string, args.queue,
                                           message_decode_policy=policy)
    deadline = time.monotonic() + args.timeout
    texts: list[str] = []
    empty = 0
    while True:
        got = 0
        for m in q.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=3600):
            texts.append(m.content)
            got += 1
        empty = 0 if got else empty + 1
        if len(texts) >= args.expect and empty >= 2:
            break
        if time.monotonic() >= deadline and not got:
            break
        if not got:
            time.sleep(0.2)
    events, ids, bad = [], set(), 0
    for text in texts:
        try:
            event = JSONFormat().read(CloudEvent, text.encode())
        except Exception as e:
            bad += 1
            print(f"read_azure_queue: not a CloudEvents 1.0 JSON event: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        ids.add(event.get_id())
        data = event.get_data() if isinstance(event.get_data(), dict) else {}
        e = {
            "id": event.get_id(),
            "subject": event.get_subject(),
            "type": event.get_type(),
            "commitlsn": event.get_extension("commitlsn"),
            "bytes": len(text.encode()),
            "data_enrichment": data.get("enrichment"),
        }
        if args.with_data:
            e["data"] = data
        events.append(e)
    json.dump({"count": len(texts), "unique_ids": len(ids), "events": events}, sys.stdout)
    sys.stdout.write("\n")
    if bad:
        return 1
    if len(texts) < args.expect:
        print(f"read_azure_queue: expected {args.expect} messages, read {len(texts)}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
