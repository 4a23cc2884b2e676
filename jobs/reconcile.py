"""Poll every active shop for orders changed since its last sync (the clock runs it every 10 minutes)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select

from connectors.http import PlatformError
from jobs import get_app
from plugin import config, db, redis_conn
from plugin.models import Shop
from plugin.queue import request_drain
from plugin.reconcile import reconcile_shop
from plugin.tokens import current_access

log = logging.getLogger(__name__)
LOCK_SECONDS = 900


def run(shop_id: int | None = None, max_pages: int | None = None, retry=None) -> list[dict]:
    app = get_app()
    conn = redis_conn(app)
    retry = retry or config(app).platform_retry()
    results = []
    with db(app).session() as s:
        q = select(Shop).where(Shop.active.is_(True)).order_by(Shop.id)
        if shop_id is not None:
            q = select(Shop).where(Shop.id == shop_id)
        shops = s.execute(q).scalars().all()
        if shop_id is not None and not shops:
            return [{"shop_id": shop_id, "error": "no such shop"}]
        for shop in shops:
            lock = f"redress:reconcile:{shop.id}"
            # One pass per shop at a time, however many workers and clocks there are.
            if not conn.set(lock, "1", nx=True, ex=LOCK_SECONDS):
                results.append({"shop_id": shop.id, "skipped": "another pass is running"})
                continue
            try:
                r = reconcile_shop(s, db(app).engine, shop, current_access(app, s, shop), datetime.now(UTC),
                                   max_pages=max_pages, retry=retry)
                results.append(r.__dict__)
            except PlatformError as exc:
                s.rollback()
                log.warning("reconciliation of shop %s stopped: %s (it resumes next time)", shop.id, exc)
                results.append({"shop_id": shop.id, "error": str(exc), "finished": False})
            finally:
                conn.delete(lock)
    if any(r.get("stored") for r in results):
        request_drain(conn)
    return results
