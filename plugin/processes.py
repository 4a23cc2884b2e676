"""The process types: web server, RQ worker, clock, and `run` which starts all three together."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

log = logging.getLogger(__name__)
BIN = Path(sys.executable).parent
MAINTENANCE_SECONDS = 60


def web_command(host: str, port: int, workers: int) -> list[str]:
    # granian won the ingest benchmark (bench/RESULTS.md): a Rust HTTP front with Python WSGI workers.
    return [str(BIN / "granian"), "--interface", "wsgi", "--host", host, "--port", str(port),
            "--workers", str(workers), "--blocking-threads", "4", "--no-ws", "--log-level", "warning",
            # A worker that does not stop within 5 s of SIGTERM is killed, so a stop never hangs.
            "--workers-kill-timeout", "5",
            "plugin.wsgi:app"]


def worker(app: Flask, burst: bool = False, queues: tuple[str, ...] | None = None) -> bool:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from rq import SimpleWorker
    from rq.worker import DequeueStrategy

    from jobs import use_app
    from plugin.extensions import redis_conn
    from plugin.storage.queue import QUEUES, queue

    use_app(app)
    conn = redis_conn(app)
    pause = 1.0
    while True:
        try:
            # SimpleWorker runs jobs in this process: no fork per job, so a batch job starts in microseconds
            # and keeps its database pool; every job is safe to run twice if the process dies mid-way.
            # Maintenance every minute, not RQ's 10: it restarts the scheduler (which puts retries back on
            # their queues) when a Redis restart ended it, and clears jobs a dead worker left behind.
            w = SimpleWorker([queue(conn, q) for q in queues or QUEUES], connection=conn,
                             maintenance_interval=MAINTENANCE_SECONDS)
            # Round robin: after a job from one queue the next is looked for in the queue after it, so a
            # steady stream of webhooks (ingest is never empty) cannot starve compensations, sweeps or
            # messages. The scheduler puts jobs waiting for a retry (a platform that failed) back in time.
            return w.work(burst=burst, logging_level="WARNING", with_scheduler=not burst,
                          dequeue_strategy=DequeueStrategy.ROUND_ROBIN)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Redis restarting (or not up yet) must not end the process: a host restarts a crashed one
            # only after a back-off of its own, minutes on some, while deliveries wait.
            if burst:
                raise
            log.warning("Redis does not answer (%s); the worker tries again in %.0f s", exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, 30.0)


def clock(app: Flask, interval: float = 60.0, once: bool = False) -> None:
    """Enqueues what SCHEDULE says is due, every minute."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from plugin.extensions import redis_conn
    from plugin.storage.queue import SCHEDULE, enqueue

    conn = redis_conn(app)
    while True:
        now = datetime.now(UTC)
        minute = now.strftime("%Y%m%d%H%M")
        try:
            for periodic in SCHEDULE:
                due = (now.hour * 60 + now.minute) % periodic.every_minutes == 0
                # Several clocks may run (a restart overlapping the old one): only the first enqueues each minute.
                if due and conn.set(f"redress:clock:{periodic.name}:{minute}", "1", nx=True, ex=180):
                    enqueue(conn, periodic.job)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Redis restarting: this minute's jobs are skipped, the next minute's go out (the sweep
            # catches up on whatever waited meanwhile); the process stays.
            log.warning("Redis does not answer (%s); the clock tries again next minute", exc)
        if once:
            return
        time.sleep(interval - (time.time() % interval))


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port (a bind fails), checked before anything starts."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        # SO_REUSEADDR: a port left in TIME_WAIT by a stopped server is free; one being listened on is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def run_all(app: Flask, host: str, port: int) -> int:
    """web + worker + clock as child processes sharing one Redis; any child dying stops the group.

    Each child runs in a process group of its own, so Ctrl-C in the terminal (or closing it) reaches this
    process alone and the children are stopped here, in order, each with its whole group (granian's own
    workers included), and the embedded Redis last.
    """
    from plugin.extensions import config, redis_conn
    from plugin.storage.queue import shutdown_embedded

    cfg = config(app)
    env = dict(os.environ)
    env["REDRESS_INSTANCE_DIR"] = str(cfg.instance_dir)
    embedded = None
    if not cfg.redis_url:
        embedded = redis_conn(app)  # starts the embedded server, stopped below
        env["REDIS_URL"] = f"unix://{embedded.socket_file}"
    redress = str(BIN / "redress")
    stopping = False

    def _stop(signum, _frame):
        nonlocal stopping
        stopping = True

    # SIGHUP too: closing the terminal would otherwise end this process at once and orphan the children,
    # which are in sessions of their own and never hear of it.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    children: list[subprocess.Popen] = []
    try:
        for args in (["web", "--host", host, "--port", str(port)], ["worker"], ["clock"]):
            children.append(subprocess.Popen([redress, *args], env=env, start_new_session=True))
        print(f"Redress is serving on http://{host}:{port} (web, worker and clock running; Ctrl-C stops)",
              flush=True)
        return _supervise(children, lambda: stopping)
    finally:
        _stop_children(children)
        if embedded is not None:
            shutdown_embedded(embedded)
        print("Redress has stopped.", flush=True)


def _name(p: subprocess.Popen[bytes]) -> str:
    """The process type (`web`, `worker`, `clock`): the argument after the `redress` executable."""
    return str(list(p.args)[1]) if isinstance(p.args, list) else str(p.args)


def _supervise(children: list[subprocess.Popen], stopping) -> int:
    while not stopping():
        for p in children:
            if p.poll() is not None:
                log.error("process %s exited with %s; stopping the others", _name(p), p.returncode)
                return 1
        time.sleep(0.2)
    return 0


def _stop_children(children: list[subprocess.Popen], grace: float = 10.0) -> None:
    """SIGTERM to each child (granian and RQ finish what they are doing), then SIGKILL to whatever is left
    of its process group, so no orphan keeps the port or a job."""
    for p in children:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + grace
    for p in children:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("process %s did not stop within %.0f s; killing it", _name(p), grace)
    for p in children:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
