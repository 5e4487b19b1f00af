"""One-shot set-up for the cloud profiles of docker-compose.yml: a slot of its own for
the cloud relay, and the queue it sends to, in the emulator.

    python cloud-setup.py sqs      # slot outbox_relay_sqs, FIFO queue in ministack
    python cloud-setup.py azure    # slot outbox_relay_azure, queue in Azurite

Each relay needs its own replication slot (two relays on one slot take turns: the second
waits as a standby). Idempotent: an existing slot or queue is left as it is.

The slot is created as the relay's role (it has REPLICATION) with psycopg; the queues
through the emulators' HTTP APIs with the standard library only: SQS's JSON protocol
(ministack checks no signature), and Azure's REST API with an account SAS signed by the
documented algorithm (the same one as crates/relay-sinks/src/azure_queue/sas.rs) for the
emulator's well-known development account.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg

DEVSTORE_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (not a secret).
DEVSTORE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def slot(name: str) -> None:
    dsn = f"host=postgres dbname=portal user=outbox_relay password={os.environ['RELAY_PG_PASSWORD']}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (name,)).fetchone()
        if not exists:
            conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (name,))
    print(f"cloud-setup: slot {name} ready")


def sqs_queue(endpoint: str, name: str) -> None:
    body = json.dumps({"QueueName": name, "Attributes": {"FifoQueue": "true"}}).encode()
    req = urllib.request.Request(endpoint, data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AmazonSQS.CreateQueue",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
    })
    with urllib.request.urlopen(req, timeout=30) as r:
        print(f"cloud-setup: queue {json.load(r)['QueueUrl']} ready")


def azure_queue(endpoint: str, name: str) -> None:
    expiry = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    sv = "2022-11-02"
    # Account SAS string to sign (sv >= 2020-12-06): account, sp, ss, srt, st, se, sip, spr, sv, ses.
    to_sign = f"{DEVSTORE_ACCOUNT}\nc\nq\nco\n\n{expiry}\n\n\n{sv}\n\n"
    sig = base64.b64encode(hmac.new(base64.b64decode(DEVSTORE_KEY), to_sign.encode(), hashlib.sha256).digest()).decode()
    query = urllib.parse.urlencode({"sv": sv, "ss": "q", "srt": "co", "sp": "c", "se": expiry, "sig": sig})
    req = urllib.request.Request(f"{endpoint}/{name}?{query}", data=b"", method="PUT",
                                 headers={"x-ms-version": "2025-11-05"})
    with urllib.request.urlopen(req, timeout=30) as r:
        print(f"cloud-setup: queue {name} ready (HTTP {r.status})")


def retry(what, fn, *args) -> None:
    """The emulators may still be starting: try for a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return fn(*args)
        except (OSError, urllib.error.URLError, psycopg.OperationalError) as e:
            if time.monotonic() > deadline:
                sys.exit(f"cloud-setup: {what}: {e}")
            time.sleep(1)


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which == "sqs":
        retry("slot", slot, "outbox_relay_sqs")
        retry("queue", sqs_queue, "http://sqs:4566/", "portal-events.fifo")
    elif which == "azure":
        retry("slot", slot, "outbox_relay_azure")
        retry("queue", azure_queue, f"http://azurite:10001/{DEVSTORE_ACCOUNT}", "portal-events")
    else:
        sys.exit("usage: cloud-setup.py sqs|azure")
