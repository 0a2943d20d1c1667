#!/usr/bin/python3
"""Interop scenario for Celery (Debian python3-celery): a real worker subprocess runs tasks through the
broker (pyamqp transport, result backend rpc://), then the client checks results, a retry, a chain, a
chord-free group and a failing task's error.
Usage: celery_client.py scenario [URL]
Prints one JSON line per step (interop/README.md, "Trace format"); exits non-zero when a step failed."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import step  # noqa: E402


def main(url):
    broker = "pyamqp://" + url.split("://", 1)[1] if "://" in url else url
    queue = common.unique("celery", "q-tasks")
    workdir = tempfile.mkdtemp(prefix="warren-celery-")
    env = dict(os.environ, INTEROP_CELERY_BROKER=broker, INTEROP_CELERY_QUEUE=queue,
               PYTHONPATH=os.path.join(HERE, "celery_app"), PYTHONDONTWRITEBYTECODE="1")
    os.environ.update(INTEROP_CELERY_BROKER=broker, INTEROP_CELERY_QUEUE=queue)
    sys.path.insert(0, os.path.join(HERE, "celery_app"))
    import interop_tasks as t  # noqa: E402 (reads the environment set above)

    log = open(os.path.join(workdir, "worker.log"), "w")
    worker = subprocess.Popen(
        ["/usr/bin/python3", "-m", "celery", "-A", "interop_tasks", "worker", "--pool=solo", "--concurrency=1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING",
         "-Q", queue, "-n", "interop-%d@localhost" % os.getpid()],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        step("celery_add", lambda: {"result": t.add.delay(2, 3).get(timeout=30)})
        step("celery_retry", lambda: t.flaky.delay("k").get(timeout=30))
        step("celery_chain", lambda: {"result": (t.add.s(2, 2) | t.mul.s(4) | t.add.s(1))().get(timeout=30)})

        def group():
            from celery import group as g
            res = g(t.add.s(i, i) for i in range(4))()
            return {"results": res.get(timeout=30)}
        step("celery_group", group)

        def failure():
            r = t.boom.delay("bad input")
            try:
                r.get(timeout=30)
                return {"raised": False}
            except ValueError as e:
                return {"raised": True, "type": "ValueError", "message": str(e), "state": r.state}
        step("celery_error", failure)

        def cleanup():
            with t.app.connection_for_write() as conn:
                ch = conn.default_channel
                ch.queue_delete(queue)
                ch.exchange_delete(queue)
            return {"ok": True}
        step("cleanup", cleanup)
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
        if common.FAILED:
            with open(os.path.join(workdir, "worker.log")) as f:
                sys.stderr.write("---- celery worker log ----\n" + f.read()[-4000:])
        shutil.rmtree(workdir, ignore_errors=True)
    common.finish()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "scenario"
    if mode != "scenario":
        sys.exit("usage: celery_client.py scenario [URL]")
    main(common.url_from_argv(2))
