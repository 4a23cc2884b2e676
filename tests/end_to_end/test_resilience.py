"""Nothing is lost: a database outage answers 503; a Redis outage still stores, and the sweep recovers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs import sweep, use_app
from plugin.app import create_app
from plugin.extensions import config, redis_conn
from plugin.storage.queue import request_drain
from tests.conftest import make_config
from tests.support.pg import _free_port
from tests.support.platforms import connect_shopify, connect_woocommerce, post_shopify, post_wc, shopify_order
from tests.support.redis_server import RedisServer
from tests.support.work import deliveries, incidents, run_worker


def test_database_down_answers_503_so_the_platform_retries(tmp_path, redis_server):
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/nowhere"
    app = create_app(make_config(tmp_path, dead, redis_server))
    client = app.test_client()
    assert post_shopify(client, shopify_order()).status_code == 503
    assert post_wc(client, 1, {"id": 1}).status_code == 503
    assert client.get("/healthz").status_code == 503


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_redis_down_still_stores_and_the_sweep_drains_later(tmp_path, database_url, redis_server):
    down = create_app(make_config(tmp_path, database_url, f"unix://{tmp_path}/no-redis.sock"))
    connect_shopify(down)
    r = post_shopify(down.test_client(), shopify_order(cancel_reason="declined"))
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    assert down.test_client().get("/healthz").status_code == 503
    [d] = deliveries(down)
    assert d.processed_at is None

    up = create_app(make_config(tmp_path, database_url, redis_server))
    redis_conn(up).flushall()
    use_app(up)
    result = sweep.run(now=datetime.now(UTC) + timedelta(minutes=1))
    assert result["stuck_deliveries"] == 1
    run_worker(up)
    [inc] = incidents(up)
    assert inc["kind"] == "payment_failed"


def test_healthz_ok_when_database_and_redis_answer(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"


def test_a_job_run_twice_changes_nothing_the_second_time(app, client):
    connect_shopify(app)
    post_shopify(client, shopify_order(cancel_reason="declined"))
    from jobs import ingest

    use_app(app)
    first = ingest.drain()
    second = ingest.drain()
    assert first["deliveries"] == 1 and first["opened"] == 1
    assert second["deliveries"] == 0
    assert len(incidents(app)) == 1


def test_the_drain_is_enqueued_once_while_one_is_pending(app, client):
    connect_shopify(app)
    shop_id, _ = connect_woocommerce(app)
    from rq import Queue

    for i in range(5):
        post_shopify(client, shopify_order(cancel_reason="declined", updated_at=f"2026-11-2{i}T10:00:00Z"))
    post_wc(client, shop_id, {"id": 1, "status": "failed", "date_modified_gmt": "2026-11-20T10:00:00"})
    assert Queue("ingest", connection=redis_conn(app)).count == 1
    run_worker(app)
    assert all(d.processed_at for d in deliveries(app))


def test_front_page_speaks_english_and_spanish(client):
    assert "Redress is running" in client.get("/").get_data(as_text=True)
    page = client.get("/", headers={"Accept-Language": "es-ES,es;q=0.9"}).get_data(as_text=True)
    assert "Redress está en marcha" in page


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_started_while_redis_is_down_waits_for_it_and_then_works(tmp_path, database_url):
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    later = RedisServer(redis_dir)  # not started yet: the worker comes up first, as after a host restart
    app = create_app(make_config(tmp_path, database_url, later.url))
    connect_shopify(app)
    assert post_shopify(app.test_client(), shopify_order(cancel_reason="declined")).status_code == 200
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=later.url, REDRESS_INSTANCE_DIR=str(tmp_path),
               REDRESS_SECRET_KEY="test", REDRESS_ENCRYPTION_KEYS=",".join(config(app).encryption_keys))
    worker = subprocess.Popen([str(Path(sys.executable).parent / "redress"), "worker"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(3)
        assert worker.poll() is None, worker.stdout.read().decode()  # still there, waiting for Redis
        later.start()
        request_drain(redis_conn(app))
        deadline = time.monotonic() + 30
        while not incidents(app):
            assert time.monotonic() < deadline, "the worker never took the drain"
            time.sleep(0.2)
        assert incidents(app)[0]["kind"] == "payment_failed"
    finally:
        worker.terminate()
        worker.wait(20)
        later.stop()
