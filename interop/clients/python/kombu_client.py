#!/usr/bin/python3
"""Interop scenario for Python kombu (Debian python3-kombu, on its py-amqp transport).

The standard steps go through the py-amqp channel kombu hands out (what kombu's own transport uses);
the kombu_* steps exercise kombu's features: Producer retry over a dropped connection (ensure/revive),
Consumer ack / requeue / reject handling, and SimpleQueue.
Usage: kombu_client.py scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...
Prints one JSON line per step (interop/README.md, "Trace format"); exits non-zero when a step failed."""
import datetime
import decimal
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import amqp  # noqa: E402
import kombu  # noqa: E402
from kombu import Consumer, Exchange, Producer, Queue  # noqa: E402
import common  # noqa: E402
from common import emit, step, unique  # noqa: E402

CLIENT = "kombu"
NAMES = {}


def name(sym):
    NAMES.setdefault(sym, unique(CLIENT, sym))
    return NAMES[sym]


def clean(text):
    for sym, real in NAMES.items():
        text = text.replace(real, "<" + sym + ">")
    return text


def pyamqp_url(url):
    return "pyamqp://" + url.split("://", 1)[1] if "://" in url else url


def drain(ch, q):
    out = []
    while True:
        m = ch.basic_get(q, no_ack=True)
        if m is None:
            return out
        out.append(m.body.decode() if isinstance(m.body, bytes) else m.body)


def text(m):
    return m.body.decode() if isinstance(m.body, bytes) else m.body


def wait(conn, check, seconds=5.0):
    deadline = time.time() + seconds
    while not check() and time.time() < deadline:
        try:
            conn.drain_events(timeout=0.05)
        except socket.timeout:
            pass
    return check()


def scenario(url):
    conn = kombu.Connection(pyamqp_url(url))
    conn.connect()
    raw = conn.connection  # the py-amqp Connection kombu's transport drives
    ch = raw.channel()
    step("connect", lambda: {"ok": conn.connected})

    def declare_queue(c, q, **kw):
        return c.queue_declare(q, auto_delete=False, **kw)

    def exchanges():
        for t in ("direct", "fanout", "topic", "headers"):
            ch.exchange_declare(name("x-" + t), t, auto_delete=False)
        for q in ("q-direct", "q-fanout", "q-topic", "q-headers-all", "q-headers-any"):
            declare_queue(ch, name(q))
        ch.queue_bind(name("q-direct"), name("x-direct"), "k1")
        ch.queue_bind(name("q-fanout"), name("x-fanout"), "ignored")
        ch.queue_bind(name("q-topic"), name("x-topic"), "a.*.c")
        ch.queue_bind(name("q-topic"), name("x-topic"), "x.#")
        ch.queue_bind(name("q-headers-all"), name("x-headers"), "", arguments={"x-match": "all", "color": "red", "size": "big"})
        ch.queue_bind(name("q-headers-any"), name("x-headers"), "", arguments={"x-match": "any", "color": "red", "size": "big"})
        for k in ("k1", "k2"):
            ch.basic_publish(amqp.Message(k), name("x-direct"), k)
        ch.basic_publish(amqp.Message("f1"), name("x-fanout"), "x")
        ch.basic_publish(amqp.Message("f2"), name("x-fanout"), "")
        for k in ("a.b.c", "a.b", "x", "x.y.z", "a.b.c.d"):
            ch.basic_publish(amqp.Message(k), name("x-topic"), k)
        for body, h in (("h-all", {"color": "red", "size": "big"}), ("h-one", {"color": "red"}), ("h-none", {"color": "blue"})):
            ch.basic_publish(amqp.Message(body, application_headers=h), name("x-headers"), "")
        return {"direct": drain(ch, name("q-direct")), "fanout": drain(ch, name("q-fanout")), "topic": drain(ch, name("q-topic")),
                "headers_all": drain(ch, name("q-headers-all")), "headers_any": drain(ch, name("q-headers-any"))}
    step("exchanges", exchanges)

    def confirms():
        c = raw.channel()
        acks, nacks, returns = [], [], []
        pending = [1, 2]  # publish sequence numbers; one basic.ack with multiple=True may settle both

        def settle(into):
            def on(tag, multiple):
                done = [t for t in pending if t <= tag] if multiple else [t for t in pending if t == tag]
                for t in done:
                    pending.remove(t)
                    into.append(t)
            return on
        c.events["basic_ack"].add(settle(acks))
        c.events["basic_nack"].add(settle(nacks))
        c.events["basic_return"].add(lambda exc, exchange, rk, m: returns.append(
            {"reply_code": exc.reply_code, "reply_text": exc.reply_text, "exchange": exchange, "routing_key": clean(rk), "body": text(m)}))
        c.confirm_select()
        declare_queue(c, name("q-confirm"))
        c.basic_publish(amqp.Message("routable"), "", name("q-confirm"), mandatory=True)
        c.basic_publish(amqp.Message("unroutable"), "", name("missing"), mandatory=True)
        wait(raw, lambda: len(acks) + len(nacks) >= 2)
        c.close()
        return {"acks": len(acks), "nacks": len(nacks), "returns": returns, "queued": drain(ch, name("q-confirm"))}
    step("confirms", confirms)

    def prefetch():
        q = name("q-prefetch")
        declare_queue(ch, q)
        for i in range(5):
            ch.basic_publish(amqp.Message("p%d" % i), "", q)
        c = raw.channel()
        c.basic_qos(0, 2, False)
        got, held = [], []

        def on_msg(m):
            got.append((text(m), m.delivery_info["redelivered"]))
            held.append(m.delivery_tag)
        tag = c.basic_consume(q, callback=on_msg, no_ack=False)
        wait(raw, lambda: len(got) >= 2)
        deadline = time.time() + 0.3  # give the broker a chance to over-deliver
        while time.time() < deadline:
            try:
                raw.drain_events(timeout=0.05)
            except socket.timeout:
                pass
        in_flight = len(got)

        def ack_all_and_check():
            while held:
                c.basic_ack(held.pop(0))
            return len(got) >= 5
        wait(raw, ack_all_and_check)
        ack_all_and_check()
        c.basic_cancel(tag)
        c.close()
        return {"bodies": [b for b, _ in got], "redelivered": [r for _, r in got], "in_flight_before_ack": in_flight}
    step("prefetch", prefetch)

    def nack_requeue():
        q = name("q-nack")
        declare_queue(ch, q)
        ch.basic_publish(amqp.Message("n0"), "", q)
        m1 = ch.basic_get(q, no_ack=False)
        ch.basic_reject(m1.delivery_tag, requeue=True)  # py-amqp 5.1 has no basic_nack; reject+requeue is its way
        m2 = ch.basic_get(q, no_ack=False)
        ch.basic_reject(m2.delivery_tag, requeue=False)
        m3 = ch.basic_get(q, no_ack=False)
        return {"first": {"body": text(m1), "redelivered": m1.delivery_info["redelivered"]},
                "second": {"body": text(m2), "redelivered": m2.delivery_info["redelivered"]},
                "after_reject_empty": m3 is None}
    step("nack_requeue", nack_requeue)

    def basic_get():
        q = name("q-get")
        declare_queue(ch, q)
        out = {"empty_first": ch.basic_get(q) is None}
        ch.basic_publish(amqp.Message("g0"), "", q)
        ch.basic_publish(amqp.Message("g1"), "", q)
        for key in ("first", "second"):
            m = ch.basic_get(q, no_ack=False)
            ch.basic_ack(m.delivery_tag)
            out[key] = {"body": text(m), "message_count": m.delivery_info["message_count"], "redelivered": m.delivery_info["redelivered"]}
        out["empty_after"] = ch.basic_get(q) is None
        return out
    step("basic_get", basic_get)

    def rpc():
        # kombu style: a Producer answers on the request's reply_to with its correlation_id
        q = Queue(name("q-rpc"), exchange=Exchange("", type="direct"), routing_key=name("q-rpc"), auto_delete=False)
        replies = []
        with conn.channel() as server_ch, conn.channel() as client_ch:
            def serve(body, message):
                Producer(server_ch).publish("pong:" + body, routing_key=message.properties["reply_to"],
                                            correlation_id=message.properties["correlation_id"], serializer="raw")
                message.ack()
            reply_q = Queue("", exclusive=True, auto_delete=True)
            with Consumer(server_ch, [q], callbacks=[serve], accept=["text/plain"]), \
                    Consumer(client_ch, [reply_q], callbacks=[lambda body, m: replies.append((body, m.properties["correlation_id"]))],
                             no_ack=True, accept=["text/plain"]) as cc:
                Producer(client_ch).publish("ping", routing_key=name("q-rpc"), reply_to=cc.queues[0].name,
                                            correlation_id="corr-1", serializer="raw", content_type="text/plain")
                deadline = time.time() + 5
                while not replies and time.time() < deadline:
                    try:
                        conn.drain_events(timeout=0.05)
                    except socket.timeout:
                        pass
        body = replies[0][0]
        return {"reply": body.decode() if isinstance(body, bytes) else body, "correlation_id": replies[0][1]}
    step("rpc", rpc)

    def tx():
        q = name("q-tx")
        declare_queue(ch, q)
        t = raw.channel()
        t.tx_select()
        t.basic_publish(amqp.Message("tx-rollback"), "", q)
        t.tx_rollback()
        after_rollback = ch.queue_declare(q, passive=True).message_count
        t.basic_publish(amqp.Message("tx-commit"), "", q)
        t.tx_commit()
        after_commit = ch.queue_declare(q, passive=True).message_count
        t.close()
        return {"after_rollback": after_rollback, "after_commit": after_commit, "bodies": drain(ch, q)}
    step("tx", tx)

    def heartbeat():
        # py-amqp has no background thread: kombu's idiom is drain_events + heartbeat_check while idle
        hb = kombu.Connection(pyamqp_url(url), heartbeat=1)
        hb.connect()
        deadline = time.time() + 3.5
        while time.time() < deadline:
            hb.heartbeat_check()
            try:
                hb.drain_events(timeout=0.2)
            except socket.timeout:
                pass
        c = hb.connection.channel()
        q = c.queue_declare("", exclusive=True).queue
        c.basic_publish(amqp.Message("alive"), "", q)
        m = c.basic_get(q, no_ack=True)
        alive = hb.connected and m is not None and text(m) == "alive"
        hb.release()
        return {"alive": alive}
    step("heartbeat", heartbeat)

    def error_404():
        c = raw.channel()
        try:
            c.queue_declare(name("missing"), passive=True)
            return {"raised": False}
        except amqp.exceptions.NotFound as e:
            return {"reply_code": e.reply_code, "reply_text": clean(e.reply_text), "connection_open": raw.connected}
    step("error_404", error_404)

    def error_406():
        c = raw.channel()
        c.queue_declare(name("q-406"), durable=False, auto_delete=False)
        try:
            c.queue_declare(name("q-406"), durable=True, auto_delete=False)
            return {"raised": False}
        except amqp.exceptions.PreconditionFailed as e:
            return {"reply_code": e.reply_code, "reply_text": clean(e.reply_text), "connection_open": raw.connected}
    step("error_406", error_406)

    def kombu_retry():
        # Producer.publish(retry=True) survives a dropped connection: kombu revives it and publishes again
        q = Queue(name("q-retry"), exchange=Exchange("", type="direct"), routing_key=name("q-retry"), auto_delete=False)
        with kombu.Connection(pyamqp_url(url)) as c:
            producer = c.Producer()
            producer.publish({"n": 1}, routing_key=name("q-retry"), declare=[q], serializer="json")
            c.connection.sock.shutdown(socket.SHUT_RDWR)  # the network drops under the producer
            errors = []
            producer.publish({"n": 2}, routing_key=name("q-retry"), declare=[q], serializer="json", retry=True,
                             retry_policy={"max_retries": 3, "interval_start": 0, "interval_step": 0.2,
                                           "errback": lambda exc, interval: errors.append(type(exc).__name__)})
            sq = c.SimpleQueue(q)
            got = []
            for _ in range(2):
                m = sq.get(timeout=5)
                got.append(m.payload)
                m.ack()
            sq.close()
            return {"payloads": got, "retried": len(errors) > 0}
    step("kombu_retry", kombu_retry)

    def kombu_ack():
        # Consumer callbacks: requeue once (redelivered next time), reject a poison message, ack the rest
        q = Queue(name("q-kombu-ack"), exchange=Exchange("", type="direct"), routing_key=name("q-kombu-ack"), auto_delete=False)
        seen = []
        with conn.channel() as c:
            producer = Producer(c)
            for body in ("ok", "retry-me", "poison"):
                producer.publish({"body": body}, routing_key=name("q-kombu-ack"), declare=[q], serializer="json")

            def handle(body, message):
                b = body["body"]
                red = message.delivery_info["redelivered"]
                if b == "poison":
                    message.reject()
                    action = "reject"
                elif b == "retry-me" and not red:
                    message.requeue()
                    action = "requeue"
                else:
                    message.ack()
                    action = "ack"
                seen.append({"body": b, "redelivered": red, "action": action})
            with Consumer(c, [q], callbacks=[handle], accept=["json"], prefetch_count=1):
                deadline = time.time() + 5
                while len(seen) < 4 and time.time() < deadline:
                    try:
                        conn.drain_events(timeout=0.05)
                    except socket.timeout:
                        pass
            left = c.queue_declare(name("q-kombu-ack"), passive=True).message_count
        return {"seen": seen, "left_in_queue": left}
    step("kombu_ack", kombu_ack)

    def kombu_simple_queue():
        sq = conn.SimpleQueue(name("q-simple"), queue_opts={"auto_delete": False})
        sq.put({"hello": "wörld", "n": [1, 2]}, serializer="json", headers={"h": "v"})
        m = sq.get(timeout=5)
        m.ack()
        out = {"payload": m.payload, "content_type": m.content_type, "headers": common.norm(m.headers)}
        try:
            sq.get(block=False)
            out["empty_after"] = False
        except sq.Empty:
            out["empty_after"] = True
        sq.close()
        return out
    step("kombu_simple_queue", kombu_simple_queue)

    def cleanup():
        c = raw.channel()
        for sym, real in NAMES.items():
            if sym.startswith("x-"):
                c.exchange_delete(real)
            elif sym.startswith("q-"):
                c.queue_delete(real)
        conn.release()
        return {"ok": True}
    step("cleanup", cleanup)
    common.finish()


PROPS = ("content_type", "content_encoding", "delivery_mode", "priority", "correlation_id", "reply_to",
         "expiration", "message_id", "timestamp", "type", "user_id", "app_id")


def canonical_headers():
    """Every field-table type py-amqp can send that others decode (it writes bytes as 'S' and big ints as 'L')."""
    h = common.canonical_headers(CLIENT)
    del h["bytes"]
    del h["big"]
    return h


def publish(url, exchange):
    conn = kombu.Connection(pyamqp_url(url))
    conn.connect()
    ch = conn.connection.channel()
    ch.confirm_select()
    p = common.canonical_props(CLIENT)
    props = dict(p)
    headers = canonical_headers()
    body = common.canonical_body(CLIENT)
    acked = []
    ch.events["basic_ack"].add(lambda tag, multiple: acked.append(tag))
    ch.basic_publish(amqp.Message(body, application_headers=headers, **props), exchange, "interop")
    wait(conn.connection, lambda: bool(acked), 10)
    conn.release()
    emit({"sent": common.message_json(body, p, headers)})


def consume(url, queues):
    for queue in queues:
        # py-amqp reads 's' as a short string (the pre-errata 0-9-1 meaning), not RabbitMQ's int16: a
        # header of that type makes it raise while decoding, which leaves the connection unusable.
        # One connection per queue, so such a message costs only its own receipt.
        conn = kombu.Connection(pyamqp_url(url))
        conn.connect()
        try:
            consume_one(conn.connection.channel(), queue)
        except (UnicodeDecodeError, ValueError, struct.error) as e:
            emit({"queue": queue, "error": "undecodable", "detail": "%s: %s" % (type(e).__name__, e)})
        finally:
            try:
                conn.release()
            except Exception:  # the connection may be in pieces after a decode failure
                pass


def consume_one(ch, queue):
    deadline = time.time() + 10
    m = None
    while m is None and time.time() < deadline:
        m = ch.basic_get(queue, no_ack=False)
        if m is None:
            time.sleep(0.05)
    if m is None:
        emit({"queue": queue, "error": "no message"})
        return
    ch.basic_ack(m.delivery_tag)
    props = {}
    for k in PROPS:
        v = m.properties.get(k)
        if v is None:
            continue
        if isinstance(v, datetime.datetime):
            v = common.norm(v)["$ts"]
        props[k] = v
    body = m.body if isinstance(m.body, bytes) else m.body.encode()
    emit({"queue": queue, "received": common.message_json(body, props, m.properties.get("application_headers"))})


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "scenario"
    if mode == "scenario":
        scenario(common.url_from_argv(2))
    elif mode == "publish":
        publish(sys.argv[2], sys.argv[3])
    elif mode == "consume":
        consume(sys.argv[2], sys.argv[3:])
    else:
        sys.exit("usage: kombu_client.py scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...")
