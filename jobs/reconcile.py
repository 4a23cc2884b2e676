"""Poll every active shop for orders changed since its last sync (the clock runs it every 10 minutes)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from sqlalchemy import select

from connectors.http import PlatformError
from jobs import get_app
from plugin.extensions import config, db, redis_conn
from plugin.intake.reconcile import reconcile_shop, record_failure
from plugin.shops.tokens import current_access
from plugin.storage.models import Shop
from plugin.storage.queue import exclusive, request_drain

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
            # One pass per shop at a time, however many workers and clocks there are.
            with exclusive(conn, f"redress:reconcile:{shop.id}", LOCK_SECONDS) as mine:
                results.append(_one(app, s, shop, max_pages, retry) if mine else
                               {"shop_id": shop.id, "skipped": "another pass is running"})
    if any(r.get("stored") or r.get("error") for r in results):
        request_drain(conn)  # a pass that failed part-way may have stored pages before it stopped
    return results


def _one(app, s, shop: Shop, max_pages: int | None, retry) -> dict:
    """One shop's pass; whatever goes wrong is recorded on that shop and the other shops still get theirs."""
    shop_id, domain = shop.id, shop.domain
    now = datetime.now(UTC)
    try:
        return reconcile_shop(s, db(app).engine, shop, current_access(app, s, shop), now,
                              max_pages=max_pages, retry=retry).__dict__
    except Exception as exc:  # noqa: BLE001 - one shop's failure of any kind must not stop the others
        s.rollback()
        if isinstance(exc, PlatformError):
            reason = str(exc)
            log.error("reconciliation of shop %s (%s) stopped: %s (it resumes next time)", shop_id, domain, reason)
        else:
            # Query strings can carry a store's key (OAuth over plain HTTP): they never reach the record.
            reason = re.sub(r"\?\S*", "?…", f"unexpected error ({type(exc).__name__}: {exc})")
            log.exception("reconciliation of shop %s (%s) failed unexpectedly", shop_id, domain)
        try:
            record_failure(s, s.get(Shop, shop_id), reason, now)
        except Exception:  # noqa: BLE001 - the database itself may be what failed
            s.rollback()
            log.exception("could not record the reconciliation failure of shop %s", shop_id)
        return {"shop_id": shop_id, "domain": domain, "error": reason, "finished": False}
