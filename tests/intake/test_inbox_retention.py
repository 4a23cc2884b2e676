"""Processed inbox rows are purged after the retention period, in bounded batches; pending rows never are."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update

from jobs import sweep, use_app
from plugin.config import Config, ConfigError
from plugin.extensions import db, redis_conn
from plugin.intake import inbox
from plugin.storage.db import make_engine
from plugin.storage.models import WebhookDelivery
from tests.support.cli import redress_env
from tests.support.platforms import connect_shopify

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RETENTION = timedelta(days=30)


def add_delivery(app, shop_id, key: str, *, processed_days_ago: float | None, error: str | None = None,
                 attempts: int = 1, received_days_ago: float = 90) -> None:
    """A real inbox row, then the state the drain would have left it in."""
    engine = db(app).engine
    assert inbox.store(engine, shop_id=shop_id, platform="shopify", topic="orders/updated", key=key,
                       body=b'{"id": 1}', now=NOW - timedelta(days=received_days_ago))
    processed = None if processed_days_ago is None else NOW - timedelta(days=processed_days_ago)
    with engine.begin() as conn:
        conn.execute(update(WebhookDelivery).where(WebhookDelivery.delivery_key == key)
                     .values(processed_at=processed, error=error, attempts=attempts))


def keys(app) -> set[str]:
    with db(app).session() as s:
        return set(s.execute(select(WebhookDelivery.delivery_key)).scalars())


def test_processed_rows_past_retention_go_and_pending_or_recent_ones_stay(app):
    shop_id, _ = connect_shopify(app)
    add_delivery(app, shop_id, "old-processed", processed_days_ago=31)
    add_delivery(app, shop_id, "old-given-up", processed_days_ago=45, error="PayloadError: not an order")
    add_delivery(app, None, "old-no-shop", processed_days_ago=40, error="no active shop for this delivery")
    add_delivery(app, shop_id, "recent", processed_days_ago=29)
    add_delivery(app, shop_id, "old-pending", processed_days_ago=None, attempts=0)
    add_delivery(app, shop_id, "old-error-retrying", processed_days_ago=None, error="OperationalError", attempts=3)
    add_delivery(app, shop_id, "old-error-abandoned", processed_days_ago=None, error="boom", attempts=9)

    assert inbox.purge(db(app).engine, NOW, RETENTION, batch=2) == (3, False)
    assert keys(app) == {"recent", "old-pending", "old-error-retrying", "old-error-abandoned"}
    assert inbox.purge(db(app).engine, NOW, RETENTION) == (0, False)


def test_each_batch_is_bounded_and_a_backlog_is_reported(app):
    shop_id, _ = connect_shopify(app)
    for i in range(5):
        add_delivery(app, shop_id, f"old-{i}", processed_days_ago=31 + i)
    assert inbox.purge_processed(db(app).engine, NOW, RETENTION, batch=2) == 2
    assert keys(app) == {"old-0", "old-1", "old-2"}  # the oldest went first
    assert inbox.purge(db(app).engine, NOW, RETENTION, batch=2, max_batches=1) == (2, True)
    assert inbox.purge(db(app).engine, NOW, RETENTION, batch=2, max_batches=1) == (1, False)


def test_a_retention_shorter_than_shopifys_retries_is_refused(app):
    with pytest.raises(ValueError, match="twice"):
        inbox.purge(db(app).engine, NOW, timedelta(days=2))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.tuples(st.none() | st.floats(0, 60), st.none() | st.just("some error"),
                               st.integers(0, 6)), max_size=12),
       days=st.integers(3, 45), batch=st.integers(1, 5))
def test_purging_keeps_exactly_the_pending_and_the_recent_rows(app, rows, days, batch):
    with db(app).engine.begin() as conn:
        conn.execute(delete(WebhookDelivery))
    for i, (processed_days_ago, error, attempts) in enumerate(rows):
        add_delivery(app, None, f"k{i}", processed_days_ago=processed_days_ago, error=error, attempts=attempts,
                     received_days_ago=61)
    deleted, more = inbox.purge(db(app).engine, NOW, timedelta(days=days), batch=batch)
    kept = {f"k{i}" for i, (ago, _, _) in enumerate(rows) if ago is None or ago <= days}
    assert keys(app) == kept and deleted == len(rows) - len(kept) and not more


def test_the_sweep_purges_at_most_once_an_hour_and_keeps_going_through_a_backlog(app, monkeypatch):
    shop_id, _ = connect_shopify(app)
    use_app(app)
    for i in range(3):
        add_delivery(app, shop_id, f"old-{i}", processed_days_ago=40)
    monkeypatch.setattr(inbox, "PURGE_BATCH", 1)
    monkeypatch.setattr(sweep, "PURGE_BATCHES", 2)
    assert sweep.run(now=NOW)["inbox_purged"] == 2  # the bound reached: more is left
    assert sweep.run(now=NOW)["inbox_purged"] == 1  # so the next sweep goes on at once
    add_delivery(app, shop_id, "old-later", processed_days_ago=40)
    assert sweep.run(now=NOW)["inbox_purged"] == 0  # nothing was left last time: not again this hour
    assert 0 < redis_conn(app).ttl(sweep.PURGE_KEY) <= 3600
    assert keys(app) == {"old-later"}


def test_retention_comes_from_the_environment_and_a_bad_value_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("REDRESS_INBOX_RETENTION_DAYS", raising=False)
    assert Config.from_env(instance_dir=tmp_path).inbox_retention_days == 30
    monkeypatch.setenv("REDRESS_INBOX_RETENTION_DAYS", "90")
    assert Config.from_env(instance_dir=tmp_path).inbox_retention_days == 90
    for bad, reason in (("2", "at least 3 days"), ("0", "at least 3 days"), ("a month", "whole number")):
        monkeypatch.setenv("REDRESS_INBOX_RETENTION_DAYS", bad)
        with pytest.raises(ConfigError, match=reason):
            Config.from_env(instance_dir=tmp_path)


def test_operators_purge_from_the_command_line_and_a_bad_setting_stops_it(tmp_path, redis_server, sqlite_url):
    env = dict(REDRESS_INSTANCE_DIR=str(tmp_path / "instance"), DATABASE_URL=sqlite_url, REDIS_URL=redis_server,
               REDRESS_INBOX_RETENTION_DAYS="7", REDRESS_ENCRYPTION_KEYS=None)
    engine = make_engine(sqlite_url)
    inbox.store(engine, shop_id=None, platform="shopify", topic="orders/updated", key="old", body=b"{}",
                now=datetime.now(UTC) - timedelta(days=9))
    with engine.begin() as conn:
        conn.execute(update(WebhookDelivery).values(processed_at=datetime.now(UTC) - timedelta(days=8)))
    done = redress_env(env, "inbox", "purge", check=False)
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout) == {"deleted": 1, "retention_days": 7}

    env["REDRESS_INBOX_RETENTION_DAYS"] = "1"
    refused = redress_env(env, "inbox", "purge", check=False)
    assert refused.exit_code == 1 and "REDRESS_INBOX_RETENTION_DAYS must be at least 3 days" in refused.stderr
    engine.dispose()
