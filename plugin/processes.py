"""The process types: web server, RQ worker, clock, and `run` which starts all three together."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

log = logging.getLogger(__name__)
BIN = Path(sys.executable).parent
RECONCILE_EVERY_MINUTES = 10


def web_command(host: str, port: int, workers: int) -> list[str]:
    # granian won the ingest benchmark (bench/RESULTS.md): a Rust HTTP front with Python WSGI workers.
    return [str(BIN / "granian"), "--interface", "wsgi", "--host", host, "--port", str(port),
            "--workers", str(workers), "--blocking-threads", "4", "--no-ws", "--log-level", "warning",
            "plugin.wsgi:app"]


def worker(app: Flask, burst: bool = False) -> bool:
    from rq import SimpleWorker

    from jobs import use_app
    from plugin import redis_conn
    from plugin.queue import QUEUES, queue

    use_app(app)
    conn = redis_conn(app)
    # SimpleWorker runs jobs in this process: no fork per job, so a batch job starts in microseconds
    # and keeps its database pool; every job is safe to run twice if the process dies mid-way.
    w = SimpleWorker([queue(conn, q) for q in QUEUES], connection=conn)
    # The scheduler puts jobs waiting for a retry (a platform that failed) back on their queue in time.
    return w.work(burst=burst, logging_level="WARNING", with_scheduler=not burst)


def clock(app: Flask, interval: float = 60.0, once: bool = False) -> None:
    from plugin import redis_conn
    from plugin.queue import queue

    conn = redis_conn(app)
    while True:
        minute = datetime.now(UTC).strftime("%Y%m%d%H%M")
        # Several clocks may run (a restart overlapping the old one): only the first enqueues each minute.
        if conn.set(f"redress:clock:sweep:{minute}", "1", nx=True, ex=180):
            queue(conn, "sweep").enqueue("jobs.sweep.run", job_timeout=300, result_ttl=300)
        if int(minute) % RECONCILE_EVERY_MINUTES == 0 and conn.set(f"redress:clock:reconcile:{minute}", "1",
                                                                    nx=True, ex=180):
            queue(conn, "reconcile").enqueue("jobs.reconcile.run", job_timeout=1800, result_ttl=3600)
        if once:
            return
        time.sleep(interval - (time.time() % interval))


def run_all(app: Flask, host: str, port: int) -> int:
    """web + worker + clock as child processes sharing one Redis; any child dying stops the group."""
    from plugin import config, redis_conn

    cfg = config(app)
    env = dict(os.environ)
    env["REDRESS_INSTANCE_DIR"] = str(cfg.instance_dir)
    if not cfg.redis_url:
        conn = redis_conn(app)  # starts the embedded server, kept alive by this process
        env["REDIS_URL"] = f"unix://{conn.socket_file}"
    redress = str(BIN / "redress")
    children = [
        subprocess.Popen([redress, "web", "--host", host, "--port", str(port)], env=env),
        subprocess.Popen([redress, "worker"], env=env),
        subprocess.Popen([redress, "clock"], env=env),
    ]
    print(f"Redress is serving on http://{host}:{port} (web, worker and clock running; Ctrl-C stops)",
          flush=True)

    stopping = False

    def _stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    code = 0
    while not stopping:
        for p in children:
            if p.poll() is not None:
                log.error("process %s exited with %s; stopping the others", p.args[1], p.returncode)
                stopping, code = True, 1
        time.sleep(0.3)
    for p in children:
        if p.poll() is None:
            p.terminate()
    for p in children:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
    return code
