#!/usr/bin/python3
"""Python pika (Debian python3-pika) over TLS, for interop/tls/tls.test.ts.

Usage: pika_tls.py CONFIG_JSON, CONFIG_JSON = {"host", "port", "servername", "ca", "cert"?, "key"?,
"mechanism": "PLAIN" | "EXTERNAL", "user", "password"?}.
Connects over TLS (trusting only "ca", presenting "cert"/"key" when given), logs in with the
mechanism, then publishes with confirms to an exclusive queue, messages of 0 B, 5 B and 300 kB, each
with user_id = "user" (the broker refuses a user_id that is not the connection's user, so this also
proves who we logged in as), and reads them back. Prints one JSON line per step:
{"step": "connect"|"roundtrip", ...} or {"step": ..., "error": "<class>: <text>"} and exits 1."""
import json
import os
import ssl
import sys

import pika


def main():
    cfg = json.loads(sys.argv[1])
    ctx = ssl.create_default_context(cafile=cfg["ca"])
    if cfg.get("cert"):
        ctx.load_cert_chain(cfg["cert"], cfg["key"])
    if cfg["mechanism"] == "EXTERNAL":
        credentials = pika.credentials.ExternalCredentials()
    else:
        credentials = pika.PlainCredentials(cfg["user"], cfg["password"])
    params = pika.ConnectionParameters(
        host=cfg["host"], port=cfg["port"], ssl_options=pika.SSLOptions(ctx, cfg["servername"]),
        credentials=credentials, connection_attempts=1, blocked_connection_timeout=10)
    try:
        conn = pika.BlockingConnection(params)
    except Exception as e:  # noqa: BLE001 - every refusal is reported, with its class
        print(json.dumps({"step": "connect", "error": f"{type(e).__name__}: {e!r}"}), flush=True)
        sys.exit(1)
    print(json.dumps({"step": "connect", "ok": conn.is_open}), flush=True)
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        q = ch.queue_declare("", exclusive=True).method.queue
        bodies = [b"", b"hello", os.urandom(300_000)]
        for b in bodies:
            ch.basic_publish("", q, b, pika.BasicProperties(user_id=cfg["user"]))
        got = []
        for _ in bodies:
            _m, props, body = ch.basic_get(q, auto_ack=True)
            got.append((body, props.user_id))
        print(json.dumps({"step": "roundtrip", "ok": [g[0] for g in got] == bodies,
                          "sizes": [len(g[0]) for g in got], "user_ids": [g[1] for g in got]}), flush=True)
        conn.close()
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"step": "roundtrip", "error": f"{type(e).__name__}: {e!r}"}), flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
