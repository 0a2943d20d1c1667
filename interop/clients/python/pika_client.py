#!/usr/bin/python3
"""Interop scenario for Python pika (Debian python3-pika).

Usage: pika_client.py scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...
Prints one JSON line per step (interop/README.md, "Trace format"); exits non-zero when a step failed."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pika  # noqa: E402
import common  # noqa: E402
from common import emit, step, unique  # noqa: E402

CLIENT = "pika"
NAMES = {}


def name(sym):
    NAMES.setdefault(sym, unique(CLIENT, sym))
    return NAMES[sym]


def clean(text):
    for sym, real in NAMES.items():
        text = text.replace(real, "<" + sym + ">")
    return text


def drain(ch, q):
    bodies = []
    while True:
        m, _p, body = ch.basic_get(q, auto_ack=True)
        if m is None:
            return bodies
        bodies.append(body.decode())


def scenario(url):
    params = pika.URLParameters(url)
    conn = pika.BlockingConnection(params)
    ch = conn.channel()
    step("connect", lambda: {"ok": conn.is_open})

    def exchanges():
        for t in ("direct", "fanout", "topic", "headers"):
            ch.exchange_declare(name("x-" + t), exchange_type=t)
        for q in ("q-direct", "q-fanout", "q-topic", "q-headers-all", "q-headers-any"):
            ch.queue_declare(name(q))
        ch.queue_bind(name("q-direct"), name("x-direct"), "k1")
        ch.queue_bind(name("q-fanout"), name("x-fanout"), "ignored")
        ch.queue_bind(name("q-topic"), name("x-topic"), "a.*.c")
        ch.queue_bind(name("q-topic"), name("x-topic"), "x.#")
        ch.queue_bind(name("q-headers-all"), name("x-headers"), "", {"x-match": "all", "color": "red", "size": "big"})
        ch.queue_bind(name("q-headers-any"), name("x-headers"), "", {"x-match": "any", "color": "red", "size": "big"})
        for k in ("k1", "k2"):
            ch.basic_publish(name("x-direct"), k, k.encode())
        ch.basic_publish(name("x-fanout"), "x", b"f1")
        ch.basic_publish(name("x-fanout"), "", b"f2")
        for k in ("a.b.c", "a.b", "x", "x.y.z", "a.b.c.d"):
            ch.basic_publish(name("x-topic"), k, k.encode())
        for body, h in (("h-all", {"color": "red", "size": "big"}), ("h-one", {"color": "red"}), ("h-none", {"color": "blue"})):
            ch.basic_publish(name("x-headers"), "", body.encode(), pika.BasicProperties(headers=h))
        return {
            "direct": drain(ch, name("q-direct")),
            "fanout": drain(ch, name("q-fanout")),
            "topic": drain(ch, name("q-topic")),
            "headers_all": drain(ch, name("q-headers-all")),
            "headers_any": drain(ch, name("q-headers-any")),
        }
    step("exchanges", exchanges)

    def confirms():
        c = conn.channel()
        c.confirm_delivery()
        c.queue_declare(name("q-confirm"))
        acks, nacks, returns = 0, 0, []
        for rk, body in ((name("q-confirm"), b"routable"), (name("missing"), b"unroutable")):
            try:
                c.basic_publish("", rk, body, mandatory=True)
                acks += 1
            except pika.exceptions.UnroutableError as e:
                acks += 1  # the broker acked it after returning it
                for r in e.messages:
                    returns.append({"reply_code": r.method.reply_code, "reply_text": r.method.reply_text,
                                    "exchange": r.method.exchange, "routing_key": clean(r.method.routing_key),
                                    "body": r.body.decode()})
            except pika.exceptions.NackError:
                nacks += 1
        c.close()
        return {"acks": acks, "nacks": nacks, "returns": returns, "queued": drain(ch, name("q-confirm"))}
    step("confirms", confirms)

    def prefetch():
        q = name("q-prefetch")
        ch.queue_declare(q)
        for i in range(5):
            ch.basic_publish("", q, ("p%d" % i).encode())
        c = conn.channel()
        c.basic_qos(prefetch_count=2)
        got, pending = [], []

        def on_msg(_c, m, _p, body):
            got.append((body.decode(), m.redelivered))
            pending.append(m.delivery_tag)
        tag = c.basic_consume(q, on_msg, auto_ack=False)
        deadline = time.time() + 5
        while len(got) < 2 and time.time() < deadline:
            conn.process_data_events(time_limit=0.05)
        conn.process_data_events(time_limit=0.3)  # give the broker a chance to over-deliver
        in_flight = len(got)
        while len(got) < 5 and time.time() < deadline:
            while pending:
                c.basic_ack(pending.pop(0))
            conn.process_data_events(time_limit=0.05)
        while pending:
            c.basic_ack(pending.pop(0))
        c.basic_cancel(tag)
        c.close()
        return {"bodies": [b for b, _ in got], "redelivered": [r for _, r in got], "in_flight_before_ack": in_flight}
    step("prefetch", prefetch)

    def nack_requeue():
        q = name("q-nack")
        ch.queue_declare(q)
        ch.basic_publish("", q, b"n0")
        m1, _, b1 = ch.basic_get(q, auto_ack=False)
        ch.basic_nack(m1.delivery_tag, requeue=True)
        m2, _, b2 = ch.basic_get(q, auto_ack=False)
        ch.basic_reject(m2.delivery_tag, requeue=False)
        m3, _, _ = ch.basic_get(q, auto_ack=False)
        return {"first": {"body": b1.decode(), "redelivered": m1.redelivered},
                "second": {"body": b2.decode(), "redelivered": m2.redelivered},
                "after_reject_empty": m3 is None}
    step("nack_requeue", nack_requeue)

    def basic_get():
        q = name("q-get")
        ch.queue_declare(q)
        m0, _, _ = ch.basic_get(q)
        ch.basic_publish("", q, b"g0")
        ch.basic_publish("", q, b"g1")
        out = {"empty_first": m0 is None}
        for key in ("first", "second"):
            m, _, body = ch.basic_get(q, auto_ack=False)
            ch.basic_ack(m.delivery_tag)
            out[key] = {"body": body.decode(), "message_count": m.message_count, "redelivered": m.redelivered}
        out["empty_after"] = ch.basic_get(q)[0] is None
        return out
    step("basic_get", basic_get)

    def rpc():
        q = name("q-rpc")
        server = conn.channel()
        server.queue_declare(q)

        def serve(c, m, p, body):
            c.basic_publish("", p.reply_to, b"pong:" + body, pika.BasicProperties(correlation_id=p.correlation_id))
            c.basic_ack(m.delivery_tag)
        server.basic_consume(q, serve)
        client = conn.channel()
        reply_q = client.queue_declare("", exclusive=True).method.queue
        replies = []
        client.basic_consume(reply_q, lambda _c, _m, p, body: replies.append((body.decode(), p.correlation_id)), auto_ack=True)
        client.basic_publish("", q, b"ping", pika.BasicProperties(reply_to=reply_q, correlation_id="corr-1"))
        deadline = time.time() + 5
        while not replies and time.time() < deadline:
            conn.process_data_events(time_limit=0.05)
        server.close()
        client.close()
        return {"reply": replies[0][0], "correlation_id": replies[0][1]}
    step("rpc", rpc)

    def tx():
        q = name("q-tx")
        ch.queue_declare(q)
        t = conn.channel()
        t.tx_select()
        t.basic_publish("", q, b"tx-rollback")
        t.tx_rollback()
        after_rollback = ch.queue_declare(q, passive=True).method.message_count
        t.basic_publish("", q, b"tx-commit")
        t.tx_commit()
        after_commit = ch.queue_declare(q, passive=True).method.message_count
        t.close()
        return {"after_rollback": after_rollback, "after_commit": after_commit, "bodies": drain(ch, q)}
    step("tx", tx)

    def heartbeat():
        p = pika.URLParameters(url)
        p.heartbeat = 1
        hb = pika.BlockingConnection(p)
        hb.sleep(3.5)  # idle, but pika's I/O loop keeps answering heartbeats
        c = hb.channel()
        q = c.queue_declare("", exclusive=True).method.queue
        c.basic_publish("", q, b"alive")
        m, _, body = c.basic_get(q, auto_ack=True)
        alive = hb.is_open and body == b"alive"
        hb.close()
        return {"alive": alive}
    step("heartbeat", heartbeat)

    def error_404():
        c = conn.channel()
        try:
            c.queue_declare(name("missing"), passive=True)
            return {"raised": False}
        except pika.exceptions.ChannelClosedByBroker as e:
            c2 = conn.channel()
            c2.close()
            return {"reply_code": e.reply_code, "reply_text": clean(e.reply_text), "connection_open": conn.is_open}
    step("error_404", error_404)

    def error_406():
        c = conn.channel()
        c.queue_declare(name("q-406"), durable=False)
        try:
            c.queue_declare(name("q-406"), durable=True)
            return {"raised": False}
        except pika.exceptions.ChannelClosedByBroker as e:
            return {"reply_code": e.reply_code, "reply_text": clean(e.reply_text), "connection_open": conn.is_open}
    step("error_406", error_406)

    def cleanup():
        c = conn.channel()
        for sym, real in NAMES.items():
            if sym.startswith("x-"):
                c.exchange_delete(real)
            elif sym.startswith("q-"):
                c.queue_delete(real)
        conn.close()
        return {"ok": True}
    step("cleanup", cleanup)
    common.finish()


def publish(url, exchange):
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.confirm_delivery()
    p = common.canonical_props(CLIENT)
    headers = common.canonical_headers(CLIENT)
    props = pika.BasicProperties(headers=headers, **p)
    body = common.canonical_body(CLIENT)
    ch.basic_publish(exchange, "interop", body, props)
    conn.close()
    emit({"sent": common.message_json(body, p, headers)})


def consume(url, queues):
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    for queue in queues:
        consume_one(conn, ch, queue)
    conn.close()


def consume_one(conn, ch, queue):
    deadline = time.time() + 10
    while True:
        m, p, body = ch.basic_get(queue, auto_ack=False)
        if m is not None or time.time() > deadline:
            break
        conn.sleep(0.05)
    if m is None:
        emit({"queue": queue, "error": "no message in " + queue})
        return
    ch.basic_ack(m.delivery_tag)
    props = {}
    for k in ("content_type", "content_encoding", "delivery_mode", "priority", "correlation_id", "reply_to",
              "expiration", "message_id", "timestamp", "type", "user_id", "app_id"):
        v = getattr(p, k)
        if v is not None:
            props[k] = v
    emit({"queue": queue, "received": common.message_json(body, props, p.headers)})


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "scenario"
    if mode == "scenario":
        scenario(common.url_from_argv(2))
    elif mode == "publish":
        publish(sys.argv[2], sys.argv[3])
    elif mode == "consume":
        consume(sys.argv[2], sys.argv[3:])
    else:
        sys.exit("usage: pika_client.py scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...")
