"""Every queue is served: a steady stream of webhooks never starves sweeps, reconciliation or compensations."""

from __future__ import annotations

import threading

import pytest
from rq.job import Job

from plugin.extensions import redis_conn
from plugin.processes import worker
from plugin.storage.queue import QUEUES, queue
from tests.support.cli import redress_env
from tests.support.platforms import connect_shopify, post_shopify, shopify_order

STREAM_LIMIT = 400  # deliveries; far more than a fair worker needs before it turns to the other queues
BACKLOG = 50  # drains kept waiting on the ingest queue while the stream runs, so it is never empty


def test_a_steady_stream_of_webhooks_does_not_starve_the_other_queues(app):
    connect_shopify(app)
    conn = redis_conn(app)
    ingest = queue(conn, "ingest")
    others = [queue(conn, "sweep").enqueue("jobs.sweep.run", job_timeout=300),
              queue(conn, "reconcile").enqueue("jobs.reconcile.run", job_timeout=300)]
    posted = []

    def served() -> bool:
        return all(Job.fetch(j.id, connection=conn).get_status() == "finished" for j in others)

    def stream() -> None:
        client = app.test_client()
        # Webhooks keep arriving through the endpoint, and drains keep waiting on the ingest queue (a busy
        # shop's backlog): however fast the worker drains, ingest is never empty until the other jobs have
        # run (or the stream gives up).
        while len(posted) < STREAM_LIMIT and not served():
            n = 100000 + len(posted)
            assert post_shopify(client, shopify_order(id=n, name=f"#{n}")).status_code == 200
            posted.append(n)
            for _ in range(BACKLOG - ingest.count):
                ingest.enqueue("jobs.ingest.drain", job_timeout=600)

    for _ in range(BACKLOG):
        ingest.enqueue("jobs.ingest.drain", job_timeout=600)
    poster = threading.Thread(target=stream)
    poster.start()
    try:
        worker(app, burst=True)  # the real RQ worker, in this thread (it installs signal handlers)
        while poster.is_alive():  # a burst worker stops whenever every queue is empty for a moment
            worker(app, burst=True)
    finally:
        poster.join(timeout=120)
    assert served(), "the sweep and the reconciliation never ran"
    assert len(posted) < STREAM_LIMIT, "the other queues were served only once the webhooks stopped"


def test_a_job_cannot_be_put_on_a_queue_no_worker_serves(app):
    with pytest.raises(ValueError, match="the queues are ingest, sweep"):
        queue(redis_conn(app), "sweeps")
    assert [queue(redis_conn(app), name).name for name in QUEUES] == list(QUEUES)


def test_a_worker_refuses_an_unknown_queue_as_bad_usage():
    p = redress_env({}, "worker", "--queues", "ingest,compensations", check=False)
    assert p.exit_code == 2
    assert "unknown queue compensations: the queues are ingest, sweep, reconcile, compensate, notify" in p.stderr


def test_the_clock_enqueues_each_minute_once_even_beside_a_clock_of_the_previous_release(app):
    """During a deploy the old and the new clock run side by side: they share the key of each minute."""
    from datetime import UTC, datetime

    from plugin.processes import clock

    conn = redis_conn(app)
    minute = datetime.now(UTC).strftime("%Y%m%d%H%M")
    conn.set(f"redress:clock:sweep:{minute}", "1", ex=180)  # the other clock took this minute
    conn.set(f"redress:clock:reconcile:{minute}", "1", ex=180)
    conn.set(f"redress:clock:offers:{minute}", "1", ex=180)
    clock(app, once=True)
    assert queue(conn, "sweep").count == 0 and queue(conn, "reconcile").count == 0
    assert queue(conn, "compensate").count == 0


def test_jobs_keep_their_time_limits_and_traces(app):
    """What an operator relies on: how long each job may run, and how long its result and failure stay."""
    from plugin.storage.queue import DRAIN, RECONCILE, SUBSCRIBE, SWEEP, enqueue, enqueue_compensation

    conn = redis_conn(app)
    jobs = {spec.func: enqueue(conn, spec, *args) for spec, args in
            ((DRAIN, ()), (SWEEP, ()), (RECONCILE, ()), (SUBSCRIBE, (1,)))}
    enqueue_compensation(conn, 7)
    jobs["jobs.compensate.issue"] = Job.fetch("compensate-7", connection=conn)
    seen = {f: (j.timeout, j.result_ttl, j.failure_ttl) for f, j in jobs.items()}
    assert seen == {"jobs.ingest.drain": (600, 60, 86400), "jobs.sweep.run": (300, 300, None),
                    "jobs.reconcile.run": (1800, 3600, None), "jobs.install.subscribe": (300, None, None),
                    "jobs.compensate.issue": (300, 86400, 7 * 86400)}
    assert jobs["jobs.compensate.issue"].retries_left == 7


def test_the_clock_outlives_a_redis_outage(tmp_path, database_url, caplog):
    """A minute with Redis down is skipped with a warning; the process does not end."""
    from plugin.app import create_app
    from plugin.processes import clock
    from tests.conftest import make_config

    down = create_app(make_config(tmp_path, database_url, f"unix://{tmp_path}/no-redis.sock"))
    clock(down, once=True)  # raised ConnectionError, which ended `redress clock`
    assert "the clock tries again next minute" in caplog.text
