"""A webhook receiver for Outbox Relay: verifies Standard Webhooks signatures, deduplicates
by webhook-id. pip install standardwebhooks==1.1.0; WEBHOOK_SECRET=whsec_... python3 receiver.py"""
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

hook = Webhook(os.environ["WEBHOOK_SECRET"])  # the secret (any one, during a rotation)
seen = set()  # ids already handled; in production a table with a unique key on the id

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:  # the signature over id.timestamp.body, and a timestamp within 5 minutes
            event = hook.verify(body, dict(self.headers))
        except WebhookVerificationError:
            self.send_response(401); self.end_headers(); return  # not from the relay
        if self.headers["webhook-id"] not in seen:  # a retry repeats the id: handle it once
            print(json.dumps({"id": event["id"], "type": event["type"], "data": event["data"]}), flush=True)
            seen.add(self.headers["webhook-id"])
        self.send_response(204); self.end_headers()  # 2xx: delivered, the relay moves on

ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Receiver).serve_forever()
