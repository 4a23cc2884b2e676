"""Reconciliation: ask each shop for orders changed since its last sync, and feed them to the inbox.

Webhooks get lost (Shopify drops subscriptions after failures, WooCommerce never retries and disables
them), so every shop is polled. Fetched orders go into the same inbox as webhooks and through the same
drain. A pass records its window and page cursor after every page, so a crash or a rate-limit storm
resumes where it stopped; the window overlaps the previous pass to cover clock skew.

A store that answers nonsense is never looped on: a pass reads at most MAX_PAGES pages, and stops when the
cursor goes back to where it was or a page brings no order the pass has not already seen. Why a pass
stopped short is recorded on the shop until a pass finishes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import connectors
from connectors.base import ShopAccess
from plugin.intake.inbox import store
from plugin.orders.facts import iso, parse_iso
from plugin.storage.models import Shop

log = logging.getLogger(__name__)
FIRST_WINDOW = timedelta(days=60)  # Shopify only serves the last 60 days without read_all_orders
OVERLAP = timedelta(minutes=5)
MAX_PAGES = 1000  # 100,000 orders a pass; a longer backlog continues on the next pass


@dataclass
class PassResult:
    shop_id: int
    domain: str | None = None
    pages: int = 0
    orders: int = 0
    stored: int = 0
    finished: bool = False
    error: str | None = None


def reconcile_shop(session: Session, engine: Engine, shop: Shop, access: ShopAccess, now: datetime,
                   max_pages: int | None = None, retry=None) -> PassResult:
    result = PassResult(shop_id=shop.id, domain=shop.domain)
    state = _resume(shop, now)
    since = parse_iso(state["since"])
    connector = connectors.get(shop.platform)
    seen: set[str] = set()
    cursors = {state.get("cursor")}
    limit = max_pages or MAX_PAGES
    while result.pages < limit:
        page = connector.fetch_changed(access, since, state.get("cursor"), retry=retry)
        new = [d for d in page.deliveries if d[2] not in seen]
        seen.update(d[2] for d in new)
        for topic, body, key in new:
            result.stored += store(engine, shop_id=shop.id, platform=shop.platform, topic=topic, key=key,
                                   body=body, now=now)
        result.pages += 1
        result.orders += len(page.deliveries)
        if page.next_cursor is None:
            shop.last_synced_at = parse_iso(state["started_at"])
            shop.sync_state = shop.sync_error = shop.sync_error_at = None
            session.commit()
            result.finished = True
            return result
        if page.next_cursor in cursors:
            return stopped(session, shop, result, "the store's page cursor went back to where it already was", now)
        if not new and not page.rereads:
            return stopped(session, shop, result, "the store answered a page with no order it had not already "
                                                  "sent in this pass", now)
        cursors.add(page.next_cursor)
        state["cursor"] = page.next_cursor
        shop.sync_state = dict(state)  # committed per page: the next pass resumes from here
        session.commit()
    pages = f"{limit} page" + ("s" if limit != 1 else "")
    return stopped(session, shop, result, f"stopped after {pages} without reaching the end of the changed orders; "
                                          "the next pass continues from there", now)


def _resume(shop: Shop, now: datetime) -> dict:
    """The unfinished pass's window and cursor, or a new window when there is none (or it is unreadable)."""
    state = dict(shop.sync_state or {})
    try:
        parse_iso(state["since"])
        parse_iso(state["started_at"])
        return state
    except (KeyError, TypeError, ValueError, AttributeError):
        since = (shop.last_synced_at - OVERLAP) if shop.last_synced_at else now - FIRST_WINDOW
        return {"since": iso(since), "started_at": iso(now), "cursor": None}


def stopped(session: Session, shop: Shop, result: PassResult, reason: str, now: datetime) -> PassResult:
    log.error("reconciliation of shop %s (%s) stopped: %s", shop.id, shop.domain, reason)
    record_failure(session, shop, reason, now)
    result.error = reason
    return result


def record_failure(session: Session, shop: Shop, reason: str, now: datetime) -> None:
    """Keep why the pass stopped on the shop, for the operator; the stored cursor is left as it was."""
    shop.sync_error = reason[:2000]
    shop.sync_error_at = now
    session.commit()
