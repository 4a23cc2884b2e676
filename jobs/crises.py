"""The clock's crisis-detection pass over every shop (every 15 minutes, and `redress crises detect`)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from jobs import get_app
from plugin.crises.detect import detect as detect_crises
from plugin.extensions import db, redis_conn
from plugin.storage.queue import enqueue_notify, exclusive

log = logging.getLogger(__name__)
LOCK_KEY = "redress:crises:detect"
LOCK_SECONDS = 600


def detect(now: datetime | None = None) -> dict:
    app = get_app()
    conn = redis_conn(app)
    with exclusive(conn, LOCK_KEY, LOCK_SECONDS) as mine:
        if not mine:
            return {"busy": True}
        with db(app).session() as s:
            found = detect_crises(s, now or datetime.now(UTC))
            s.commit()
            opened = [c.id for c in found.opened]
            briefs = [m.id for m in found.briefs]
    enqueue_notify(conn, *briefs)
    for crisis in found.opened:
        log.warning("shop %s: crisis %s opened (%s)", crisis.shop_id, crisis.id, crisis.cause_key)
    return {"opened": opened, "joined": found.joined, "briefs": len(briefs)}
