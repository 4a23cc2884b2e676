"""The clock's every-minute job: re-detect orders whose deadline passed, rescue a stuck inbox, and
purge old processed inbox rows (hourly)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from jobs import get_app
from plugin.compensation.ledger import stuck as stuck_compensations
from plugin.extensions import config, db, redis_conn
from plugin.intake.inbox import purge
from plugin.intake.sweep import BATCH, sweep_due_orders
from plugin.storage.models import WebhookDelivery
from plugin.storage.queue import DRAIN_PENDING_KEY, enqueue_compensation, request_drain, request_messages
from plugin.vocabulary import CompensationState

log = logging.getLogger(__name__)
STUCK_AFTER = timedelta(seconds=30)
PURGE_KEY = "redress:inbox:purge"
PURGE_EVERY = 3600  # seconds
PURGE_BATCHES = 10  # per sweep, each its own transaction: a backlog goes a few batches a minute


def run(now: datetime | None = None) -> dict:
    app = get_app()
    now = now or datetime.now(UTC)
    with db(app).session() as s:
        stuck = s.execute(
            select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.processed_at.is_(None), WebhookDelivery.attempts < 5,
                WebhookDelivery.received_at < now - STUCK_AFTER)
        ).scalar_one()
        # Batches of due orders, each committed, until none is left or the minute is nearly up.
        started, swept, planned = time.monotonic(), 0, []
        while time.monotonic() - started < 45:
            n, comps = sweep_due_orders(s, now, limit=BATCH)
            s.commit()
            swept += n
            planned += [c.id for c in comps if c.state == CompensationState.PLANNED]
            if n < BATCH:
                break
        # Compensations a lost or crashed job left behind are resumed (the job asks the platform first).
        resume = stuck_compensations(s, now)
    conn = redis_conn(app)
    enqueue_compensation(conn, *planned, *resume)
    if swept:
        request_messages(conn)
    if stuck:
        log.info("%d inbox rows waiting for over %s: re-enqueueing the drain", stuck, STUCK_AFTER)
        conn.delete(DRAIN_PENDING_KEY)
        request_drain(conn)
    return {"stuck_deliveries": stuck, "orders_checked": swept, "compensations_enqueued": len(planned) + len(resume),
            "inbox_purged": _purge_hourly(app, conn, now)}


def _purge_hourly(app, conn, now: datetime) -> int:
    """Old processed inbox rows go at most once an hour (several clocks or workers: only one purges)."""
    if not conn.set(PURGE_KEY, now.isoformat(), nx=True, ex=PURGE_EVERY):
        return 0
    deleted, more = purge(db(app).engine, now, timedelta(days=config(app).inbox_retention_days),
                          max_batches=PURGE_BATCHES)
    if more:
        conn.delete(PURGE_KEY)  # a backlog: the next sweep, a minute from now, goes on
    if deleted:
        log.info("purged %d processed inbox rows older than %d days", deleted, config(app).inbox_retention_days)
    return deleted
