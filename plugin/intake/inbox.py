"""The inbox: store a verified delivery exactly once, keyed by its delivery key.

This is the hot path of every webhook, so it is lean: shop secrets come from a short-lived
in-process cache, and the delivery is written with one autocommitted INSERT … ON CONFLICT DO NOTHING
(one round trip, durable when it returns).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from plugin.config import MIN_INBOX_RETENTION_DAYS
from plugin.storage.models import WebhookDelivery

PURGE_BATCH = 5000


def _insert_statement(dialect_name: str):
    table = WebhookDelivery.__table__
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(table)
        .values({c: bindparam(c) for c in ("shop_id", "platform", "topic", "delivery_key", "body",
                                            "received_at", "attempts")})
        .on_conflict_do_nothing(index_elements=["platform", "delivery_key"])
        .returning(table.c.id)
    )


_INSERTS = {name: _insert_statement(name) for name in ("postgresql", "sqlite")}


def store(engine: Engine, *, shop_id: int | None, platform: str, topic: str, key: str, body: bytes,
          now: datetime) -> bool:
    """Insert the delivery; False when the same key was stored before (a duplicate)."""
    stmt = _INSERTS["postgresql" if engine.dialect.name == "postgresql" else "sqlite"]
    params = {"shop_id": shop_id, "platform": platform, "topic": topic, "delivery_key": key, "body": body,
              "received_at": now, "attempts": 0}
    for attempt in (1, 2):
        try:
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                return conn.execute(stmt, params).scalar_one_or_none() is not None
        except DBAPIError as exc:
            # A pooled connection the server closed since: retry once on a fresh one.
            if attempt == 2 or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")


def purge_processed(engine: Engine, now: datetime, retention: timedelta, batch: int | None = None) -> int:
    """Delete one batch of deliveries processed before `now - retention`, in its own short transaction.

    Rows still pending (not processed, with or without an error) are never touched. Returns how many went.
    """
    if retention < timedelta(days=MIN_INBOX_RETENTION_DAYS):
        raise ValueError(f"an inbox retention under {MIN_INBOX_RETENTION_DAYS} days could process a redelivery twice")
    old = (select(WebhookDelivery.id)
           .where(WebhookDelivery.processed_at.is_not(None), WebhookDelivery.processed_at < now - retention)
           .order_by(WebhookDelivery.processed_at).limit(batch or PURGE_BATCH))
    with engine.begin() as conn:
        return conn.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(old.scalar_subquery()))).rowcount


def purge(engine: Engine, now: datetime, retention: timedelta, batch: int | None = None,
          max_batches: int | None = None) -> tuple[int, bool]:
    """Purge batch after batch until none is left or `max_batches` ran; returns (deleted, more may be left)."""
    batch = batch or PURGE_BATCH
    deleted, runs = 0, 0
    while max_batches is None or runs < max_batches:
        n = purge_processed(engine, now, retention, batch)
        deleted, runs = deleted + n, runs + 1
        if n < batch:
            return deleted, False
    return deleted, True
