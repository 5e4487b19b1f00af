"""Verifies webhook deliveries with the Standard Webhooks reference library (PyPI
`standardwebhooks`), independently of the relay's own signer.

stdin:  a JSON list of {"secret": "whsec_...", "headers": {...}, "body_b64": "..."}
stdout: a JSON list, one entry per case: "ok", or "<ExceptionName>: <message>".
"""
import base64
import json
import sys

from standardwebhooks.webhooks import Webhook

results = []
for case in json.load(sys.stdin):
    try:
        body = base64.b64decode(case["body_b64"])
        Webhook(case["secret"]).verify(body, case["headers"], json_parse=False)
        results.append("ok")
    except Exception as e:  # WebhookVerificationError, or ValueError on a malformed header
        results.append(f"{type(e).__name__}: {e}")
json.dump(results, sys.stdout)
