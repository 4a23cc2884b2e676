"""The webhook endpoint's group commit, against the real databases: deliveries arriving while a commit is
under way share the next one, every request answers after the commit holding its row (accepted once per
delivery key, duplicate otherwise), and a group the database fails answers 503 to each of its requests
with none of its rows stored."""

from __future__ import annotations

import fcntl
import os
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import create_engine, text

from plugin.extensions import config, db
from plugin.intake import inbox
from tests.support.platforms import connect_shopify, post_shopify, shopify_order
from tests.support.work import deliveries

BODY = shopify_order(id=5001, name="#5001")


def _send(app, key: str):
    return post_shopify(app.test_client(), BODY, webhook_id=key)


def _wait(condition, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class WriteLock:
    """Another connection holding the inbox's write lock for `key` (PostgreSQL: an uncommitted row of that
    delivery key; SQLite: the database's one write lock), so a commit of it waits until `release()`."""

    def __init__(self, url: str, key: str):
        self.url = url
        if url.startswith("postgresql"):
            self.conn = psycopg.connect(url.replace("+psycopg", ""))
            self.conn.execute("INSERT INTO webhook_deliveries (platform, topic, delivery_key, body, received_at, "
                              "attempts) VALUES ('shopify', 'orders/updated', %s, '', now(), 0)", [f"shopify:{key}"])
        else:
            self.engine = create_engine(url)
            self.raw = self.engine.raw_connection()
            self.raw.execute("BEGIN IMMEDIATE")

    def writers_waiting(self) -> int:
        if not self.url.startswith("postgresql"):
            return 1  # SQLite cannot say; the queue behind it is what the test watches
        with psycopg.connect(self.url.replace("+psycopg", ""), autocommit=True) as c:
            return c.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                             "AND query LIKE 'INSERT INTO webhook_deliveries%'").fetchone()[0]

    def release(self) -> None:
        if self.url.startswith("postgresql"):
            self.conn.rollback()
            self.conn.close()
        else:
            self.raw.rollback()
            self.raw.close()
            self.engine.dispose()


def test_concurrent_deliveries_share_commits_and_each_is_answered_once_it_is_stored(app):
    connect_shopify(app)
    assert _send(app, "stored-before").get_json()["status"] == "accepted"
    committer = inbox.committer(db(app).engine)
    groups, rows = committer.groups, committer.rows
    # 32 requests: 23 new keys, 8 repeats among them, and one delivery stored before.
    keys = ["k0"] + [f"k{i}" for i in range(1, 23)] + [f"k{i}" for i in range(1, 9)] + ["stored-before"]
    lock = WriteLock(config(app).database_url, "k0")
    pool = ThreadPoolExecutor(32)
    try:
        first = pool.submit(_send, app, keys[0])
        _wait(lambda: lock.writers_waiting() and committer.queued == 0, "the first commit to wait on the lock")
        rest = [pool.submit(_send, app, k) for k in keys[1:]]
        _wait(lambda: committer.queued == 31, "31 requests queued behind the first commit")
        assert not any(f.done() for f in [first, *rest]), "a request answered before its row was committed"
    finally:
        lock.release()
    answers = [f.result(30) for f in [first, *rest]]
    pool.shutdown()

    assert all(a.status_code == 200 for a in answers)
    results = [a.get_json()["status"] for a in answers]
    accepted = [k for k, r in zip(keys, results, strict=True) if r == "accepted"]
    assert sorted(accepted) == sorted(f"k{i}" for i in range(23))  # each new key accepted exactly once
    assert results.count("duplicate") == 9
    assert sorted(d.delivery_key for d in deliveries(app)) == sorted(
        f"shopify:{k}" for k in ["stored-before", *(f"k{i}" for i in range(23))])
    assert (committer.groups - groups, committer.rows - rows) == (2, 32)  # one commit for the 31 behind


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_group_the_database_fails_answers_503_to_each_request_and_stores_none_of_it(app):
    connect_shopify(app)
    url = config(app).database_url
    committer = inbox.committer(db(app).engine)
    first_lock, group_lock = WriteLock(url, "a0"), WriteLock(url, "b5")
    pool = ThreadPoolExecutor(16)
    first = pool.submit(_send, app, "a0")
    _wait(lambda: first_lock.writers_waiting() == 1, "the first commit to wait")
    group = [pool.submit(_send, app, f"b{i}") for i in range(10)]
    _wait(lambda: committer.queued == 10, "ten requests queued")
    first_lock.release()
    assert first.result(30).get_json()["status"] == "accepted"
    # The group of ten now waits on b5's lock: the database cancels its statement.
    _wait(lambda: group_lock.writers_waiting() == 1, "the group's commit to wait")
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as c:
        c.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                  "AND query LIKE 'INSERT INTO webhook_deliveries%'")
    answers = [f.result(30) for f in group]
    group_lock.release()
    pool.shutdown()

    assert [a.status_code for a in answers] == [503] * 10
    assert all("retry" in a.get_json()["status"] for a in answers)
    assert [d.delivery_key for d in deliveries(app)] == ["shopify:a0"]  # nothing of the failed group
    retried = [_send(app, f"b{i}").get_json()["status"] for i in range(10)]
    assert retried == ["accepted"] * 10  # the platform's retries are stored then
    with db(app).engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar() == 11


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_writer_connection_the_server_closed_is_replaced_without_refusing_a_delivery(app):
    connect_shopify(app)
    assert _send(app, "before").get_json()["status"] == "accepted"
    url = config(app).database_url
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as c:  # as a PostgreSQL restart would
        ended = c.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    assert ended >= 1
    after = _send(app, "after")
    assert (after.status_code, after.get_json()["status"]) == (200, "accepted")
    assert sorted(d.delivery_key for d in deliveries(app)) == ["shopify:after", "shopify:before"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_web_processes_on_one_sqlite_file_take_turns_through_its_intake_lock(app):
    connect_shopify(app)
    path = db(app).engine.url.database + "-intake.lock"
    other = os.open(path, os.O_RDWR | os.O_CREAT)  # another web process, in the middle of its write
    fcntl.flock(other, fcntl.LOCK_EX)
    pool = ThreadPoolExecutor(1)
    try:
        waiting = pool.submit(_send, app, "behind-the-other-process")
        time.sleep(0.5)
        assert not waiting.done()
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    assert waiting.result(10).get_json()["status"] == "accepted"
    pool.shutdown()
    assert [d.delivery_key for d in deliveries(app)] == ["shopify:behind-the-other-process"]
