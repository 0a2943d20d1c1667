"""Celery application used by the interop suite's Celery scenario (celery_client.py).

Broker URL and queue names come from the environment so that the client process and the worker
subprocess agree, and concurrent runs never share a queue."""
import os

from celery import Celery

app = Celery("interop_tasks", broker=os.environ["INTEROP_CELERY_BROKER"], backend="rpc://")
app.conf.update(
    task_default_queue=os.environ["INTEROP_CELERY_QUEUE"],
    task_default_exchange=os.environ["INTEROP_CELERY_QUEUE"],
    task_default_routing_key=os.environ["INTEROP_CELERY_QUEUE"],
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,            # ack after the task ran: the broker redelivers if the worker dies
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=60,
)

_ATTEMPTS = {}


@app.task
def add(x, y):
    return x + y


@app.task
def mul(x, y):
    return x * y


@app.task(bind=True, max_retries=3, default_retry_delay=0.1)
def flaky(self, key):
    """Fails on its first attempt and succeeds on the retry (Celery republishes it via the broker)."""
    _ATTEMPTS[key] = _ATTEMPTS.get(key, 0) + 1
    if _ATTEMPTS[key] < 2:
        raise self.retry(exc=RuntimeError("first attempt fails"))
    return {"attempts": _ATTEMPTS[key], "retries": self.request.retries}


@app.task
def boom(text):
    raise ValueError(text)


@app.task
def xsum(numbers):
    return sum(numbers)
