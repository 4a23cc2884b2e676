"""The clock's every-minute job: re-detect orders whose deadline passed, and rescue a stuck inbox."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from jobs import get_app
from plugin import db, redis_conn
from plugin.models import WebhookDelivery
from plugin.queue import request_drain
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
        started, swept = time.monotonic(), 0
        while time.monotonic() - started < 45:
            n = sweep_due_orders(s, now, limit=BATCH)
            s.commit()
            swept += n
            if n < BATCH:
                break
    if stuck:
        log.info("%d inbox rows waiting for over %s: re-enqueueing the drain", stuck, STUCK_AFTER)
        redis_conn(app).delete("redress:drain:pending")
        request_drain(redis_conn(app))
    return {"stuck_deliveries": stuck, "orders_checked": swept}
