"""The clock's every-minute job: re-detect orders whose deadline passed, and rescue a stuck inbox."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from jobs import get_app
from plugin import db, redis_conn
from plugin.ledger import stuck as stuck_compensations
from plugin.models import WebhookDelivery
from plugin.queue import enqueue_compensation, request_drain
from plugin.sweep import BATCH, sweep_due_orders

log = logging.getLogger(__name__)
STUCK_AFTER = timedelta(seconds=30)


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
            planned += [c.id for c in comps if c.state == "planned"]
            if n < BATCH:
                break
        # Compensations a lost or crashed job left behind are resumed (the job asks the platform first).
        resume = stuck_compensations(s, now)
    conn = redis_conn(app)
    enqueue_compensation(conn, *planned, *resume)
    if stuck:
        log.info("%d inbox rows waiting for over %s: re-enqueueing the drain", stuck, STUCK_AFTER)
        conn.delete("redress:drain:pending")
        request_drain(conn)
    return {"stuck_deliveries": stuck, "orders_checked": swept, "compensations_enqueued": len(planned) + len(resume)}
