"""Drain the webhook inbox into order snapshots and incidents, in batches."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError, OperationalError

from jobs import get_app
from plugin.extensions import db, redis_conn
from plugin.intake.pipeline import BatchResult, failed, last_delivery_id, pending_deliveries, process_batch
from plugin.storage.queue import DRAIN_PENDING_KEY, enqueue_compensation, request_drain, request_messages
from plugin.vocabulary import CompensationState

log = logging.getLogger(__name__)
BATCH = 500


def drain(batch_size: int = BATCH, max_seconds: float = 60.0) -> dict:
    """Process the deliveries pending when the job starts (or until time is up, then hand over to a new job).

    Deliveries that arrive meanwhile enqueue the next drain (the flag is cleared first), so under a steady
    stream each drain ends and the worker turns to its other queues before the next one. A full batch asks
    for another drain too, so on a backlog every idle worker joins in (each takes rows the others have not
    locked); a drain that finds nothing left ends at once.
    """
    app = get_app()
    conn = redis_conn(app)
    conn.delete(DRAIN_PENDING_KEY)
    with db(app).session() as s:
        upto = last_delivery_id(s)
    total = BatchResult()
    skip: set[int] = set()  # failed in this run: a later drain tries them again, never this one
    planned = 0
    started = time.monotonic()
    while True:
        done = _one_batch(app, batch_size, skip, upto)
        if done.deliveries == 0 and not done.deferred:
            break
        skip.update(done.retry_later, done.deferred)
        if done.deliveries + len(done.deferred) >= batch_size or done.deferred:
            request_drain(conn)  # more is waiting, or was left for later: an idle worker may share it
        for name in ("deliveries", "orders", "opened", "resolved", "failed"):
            setattr(total, name, getattr(total, name) + getattr(done, name))
        # Committed: now the platform may be asked.
        enqueue_compensation(conn, *[c.id for c in done.compensations if c.state == CompensationState.PLANNED])
        planned += len(done.compensations)
        if time.monotonic() - started > max_seconds:
            request_drain(conn)  # let other queued work run; the next job carries on
            break
    if total.orders:
        request_messages(conn)  # an incident opened, resolved or changed: its customer hears now
    summary = {k: v for k, v in total.__dict__.items() if k not in ("compensations", "retry_later", "deferred")}
    summary["compensations"] = planned
    if total.deliveries:
        log.info("inbox drained: %s", summary)
    return summary


def _one_batch(app, batch_size: int, skip: set[int], upto: int) -> BatchResult:
    database = db(app)
    last: Exception | None = None
    for attempt in range(3):
        with database.session() as s:
            try:
                rows = pending_deliveries(s, batch_size, skip, upto)
                if not rows:
                    return BatchResult()
                result = process_batch(s, rows, now=datetime.now(UTC))
                s.commit()
                return result
            except (IntegrityError, OperationalError) as exc:
                # Another worker created the same order or incident first: start the batch again.
                s.rollback()
                log.info("batch conflicted with another worker (attempt %d: %s), retrying", attempt + 1,
                         type(exc.orig).__name__)
                time.sleep(0.05 * (attempt + 1))
                last = exc
    if batch_size > 1:
        return _one_batch(app, 1, skip, upto)
    return _set_aside_first(app, skip, upto, last)


def _set_aside_first(app, skip: set[int], upto: int, exc: Exception | None) -> BatchResult:
    """One delivery that conflicts every time: count the attempt and record why, so it never blocks the rest."""
    result = BatchResult()
    with db(app).session() as s:
        rows = pending_deliveries(s, 1, skip, upto)
        for d in rows:
            d.attempts += 1
            failed(d, exc or RuntimeError("conflicted on every try"), datetime.now(UTC), result)
        s.commit()
    result.deliveries = len(rows)
    return result
