"""The clock's job for offers nobody chose in time: their first option is given (every 10 minutes)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobs import get_app
from plugin.compensation.offers import expire_offers
from plugin.extensions import db, redis_conn
from plugin.storage.queue import enqueue_compensation, exclusive
from plugin.vocabulary import CompensationState

log = logging.getLogger(__name__)
LOCK_KEY = "redress:offers:expire"
LOCK_SECONDS = 300


def expire(now: datetime | None = None) -> dict:
    app = get_app()
    conn = redis_conn(app)
    # One run at a time (two clocks, a slow run); each choice is also a compare-and-set on its incident.
    with exclusive(conn, LOCK_KEY, LOCK_SECONDS) as mine:
        if not mine:
            return {"busy": True}
        with db(app).session() as s:
            comps = expire_offers(s, now or datetime.now(UTC))
            s.commit()
            ids = [c.id for c in comps if c.state == CompensationState.PLANNED]
        # Enqueued once committed; one lost here is planned still, and the sweep resumes it.
        enqueue_compensation(conn, *ids)
    if comps:
        log.info("offers past their days: %d compensations planned by default", len(comps))
    return {"planned_by_default": len(comps), "compensations_enqueued": len(ids)}
