"""Shared bits of the Python interop clients (pika, kombu): the trace printer, the canonical
cross-language message and the normaliser that turns decoded header values into the suite's
JSON form (see interop/README.md, "Trace format"). Python 3 stdlib only."""
import binascii
import datetime
import decimal
import json
import os
import random
import sys

FAILED = []


def url_from_argv(index=2):
    if len(sys.argv) > index:
        return sys.argv[index]
    return os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def unique(client, what):
    return "interop-%s-%d-%06x-%s" % (client, os.getpid(), random.getrandbits(24), what)


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def step(name, fn):
    """Runs one scenario step; its dict result is printed as the step's observation."""
    try:
        observed = fn()
        out = {"step": name}
        out.update(observed or {})
        emit(out)
    except Exception as e:  # report and continue with the next step
        FAILED.append(name)
        emit({"step": name, "error": "%s: %s" % (type(e).__name__, e)})


def finish():
    emit({"step": "done", "failed": FAILED})
    sys.exit(1 if FAILED else 0)


def norm(v):
    """Canonical JSON form of a decoded field value (README: header normal form)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v
    if isinstance(v, decimal.Decimal):
        return {"$dec": str(v)}
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return {"$ts": int(v.timestamp())}
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": binascii.hexlify(bytes(v)).decode()}
    if isinstance(v, dict):
        return {str(k): norm(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    return {"$unknown": repr(v)}


def canonical_headers(client):
    """Every field-table type pika / py-amqp can send from Python values (pika 1.2 has no float encoder)."""
    h = {
        "str": "héllo wörld",
        "int": 42,
        "neg": -7,
        "big": 1099511627776,
        "bool_t": True,
        "bool_f": False,
        "double": 1.5,
        "dec": decimal.Decimal("123.45"),
        "ts": datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc),
        "bytes": b"\x00\xff\x10",
        "void": None,
        "table": {"k": "v", "n": 1},
        "array": ["a", 1, True],
    }
    if client == "pika":
        del h["double"]
    return h


def canonical_body(client):
    return ("hello from %s ✓ é\x00end" % client).encode("utf-8")


def canonical_props(client):
    """Property values as (name -> value) in the suite's normal form."""
    return {
        "content_type": "application/x-interop",
        "content_encoding": "utf-8",
        "delivery_mode": 2,
        "priority": 3,
        "correlation_id": "corr-" + client,
        "reply_to": "reply-" + client,
        "expiration": "600000",
        "message_id": "msg-" + client,
        "timestamp": 1700000000,
        "type": "interop.test",
        "user_id": "guest",
        "app_id": client,
    }


def message_json(body, props, headers):
    out = {"body_hex": binascii.hexlify(body).decode(), "properties": props, "headers": norm(headers or {})}
    return out
