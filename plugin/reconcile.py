"""Reconciliation: ask each shop for orders changed since its last sync, and feed them to the inbox.

Webhooks get lost (Shopify drops subscriptions after failures, WooCommerce never retries and disables
them), so every shop is polled. Fetched orders go into the same inbox as webhooks and through the same
drain. A pass records its window and page cursor after every page, so a crash or a rate-limit storm
resumes where it stopped; the window overlaps the previous pass to cover clock skew.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import connectors
from connectors.base import ShopAccess
from plugin.crypto import Vault
from plugin.facts import iso, parse_iso
from plugin.inbox import store
from plugin.models import Shop

log = logging.getLogger(__name__)
FIRST_WINDOW = timedelta(days=60)  # Shopify only serves the last 60 days without read_all_orders
OVERLAP = timedelta(minutes=5)


@dataclass
class PassResult:
    shop_id: int
    pages: int = 0
    orders: int = 0
    stored: int = 0
    finished: bool = False
    error: str | None = None


def shop_access(shop: Shop, vault: Vault, api_version: str) -> ShopAccess:
    credentials = json.loads(vault.decrypt(shop.credentials) or "{}")
    return ShopAccess(domain=shop.domain, credentials=credentials, admin_url=shop.admin_url,
                      api_version=api_version)


def reconcile_shop(session: Session, engine: Engine, shop: Shop, access: ShopAccess, now: datetime,
                   max_pages: int | None = None, retry=None) -> PassResult:
    result = PassResult(shop_id=shop.id)
    state = dict(shop.sync_state or {})
    if "started_at" not in state:
        since = (shop.last_synced_at - OVERLAP) if shop.last_synced_at else now - FIRST_WINDOW
        state = {"since": iso(since), "started_at": iso(now), "cursor": None}
    since = parse_iso(state["since"])
    connector = connectors.get(shop.platform)
    while max_pages is None or result.pages < max_pages:
        page = connector.fetch_changed(access, since, state.get("cursor"), retry=retry)
        for topic, body, key in page.deliveries:
            result.stored += store(engine, shop_id=shop.id, platform=shop.platform, topic=topic, key=key,
                                   body=body, now=now)
        result.pages += 1
        result.orders += len(page.deliveries)
        state["cursor"] = page.next_cursor
        if page.next_cursor is None:
            shop.last_synced_at = parse_iso(state["started_at"])
            shop.sync_state = None
            session.commit()
            result.finished = True
            return result
        shop.sync_state = dict(state)  # committed per page: the next pass resumes from here
        session.commit()
    return result
