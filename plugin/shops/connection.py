"""Whether a shop's connection works: its credentials, its webhooks and its last delivery.

Used by `redress shops add` (a warning when the credentials do not work), `redress shops check` and the
settings page. Each check is one or two cheap reads with a short timeout and few retries, so a dead store
answers "does not work" quickly instead of holding a terminal or a page.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

import connectors
from connectors.http import PlatformError, Retry
from plugin.extensions import config, redis_conn
from plugin.orders.facts import iso
from plugin.shops.connect import shop_json
from plugin.shops.tokens import current_access
from plugin.storage.models import Shop, WebhookDelivery

log = logging.getLogger(__name__)
PAGE_CACHE_SECONDS = 300


def quick_retry(app: Flask, attempts: int = 2, timeout: float = 5.0) -> Retry:
    cfg = config(app)
    return Retry(attempts=max(1, min(attempts, cfg.platform_attempts)), timeout=min(timeout, cfg.platform_timeout),
                 max_delay=1.0)


def _reason(exc: Exception) -> str:
    """The platform's reason, in words a merchant can act on (no endpoint URLs: they mean nothing to them)."""
    if not isinstance(exc, PlatformError):
        return f"{type(exc).__name__}: {exc}"
    gave_up = re.search(r"kept failing after (\d+) attempts \((.*)\)$", str(exc))
    if gave_up:
        tries = "once" if gave_up.group(1) == "1" else f"{gave_up.group(1)} times"
        return f"the store did not answer (tried {tries}: {gave_up.group(2)})"
    return str(exc)


def credentials_problem(app: Flask, session: Session, shop: Shop, retry: Retry) -> str | None:
    """None when the store accepts the credentials, else the platform's reason."""
    try:
        connectors.get(shop.platform).check_access(current_access(app, session, shop), retry=retry)
    except Exception as exc:  # a diagnosis reports every failure instead of failing itself
        log.info("shop %s: the connection check failed: %s", shop.id, _reason(exc))
        return _reason(exc)
    return None


def _webhooks(app: Flask, session: Session, shop: Shop, retry: Retry) -> dict[str, Any]:
    connector = connectors.get(shop.platform)
    url = shop_json(shop, config(app))["webhook_url"]
    found = connector.list_webhooks(current_access(app, session, shop), retry=retry)
    ours = {w.topic: w for w in found if w.url == url}
    subscribed = [t for t in connector.webhook_topics if t in ours and ours[t].active]
    disabled = [t for t in connector.webhook_topics if t in ours and not ours[t].active]
    missing = [t for t in connector.webhook_topics if t not in subscribed]
    return {"ok": not missing, "url": url, "subscribed": subscribed, "missing": missing, "disabled": disabled,
            "error": None}


def last_delivery(session: Session, shop_id: int) -> dict[str, Any] | None:
    """The newest webhook from the store (orders fetched by reconciliation are not deliveries)."""
    row = session.execute(
        select(WebhookDelivery.received_at, WebhookDelivery.topic)
        .where(WebhookDelivery.shop_id == shop_id, WebhookDelivery.delivery_key.not_like("%:reconcile:%"))
        .order_by(WebhookDelivery.id.desc()).limit(1)).first()
    return {"received_at": iso(row.received_at), "topic": row.topic} if row else None


def check(app: Flask, session: Session, shop: Shop, now: datetime, retry: Retry | None = None) -> dict[str, Any]:
    """The shop's connection as `redress shops check --json` prints it."""
    retry = retry or quick_retry(app)
    problem = credentials_problem(app, session, shop, retry)
    url = shop_json(shop, config(app))["webhook_url"]
    if problem is not None:
        webhooks = {"ok": False, "url": url, "subscribed": [], "missing": [], "disabled": [],
                    "error": "not checked: the credentials do not work"}
    else:
        try:
            webhooks = _webhooks(app, session, shop, retry)
        except Exception as exc:  # reported, like the credentials
            webhooks = {"ok": False, "url": url, "subscribed": [], "missing": [], "disabled": [],
                        "error": _reason(exc)}
    return {"shop_id": shop.id, "platform": shop.platform, "domain": shop.domain, "checked_at": iso(now),
            "ok": problem is None and webhooks["ok"],
            "credentials": {"ok": problem is None, "error": problem},
            "webhooks": webhooks, "last_delivery": last_delivery(session, shop.id)}


def cached_check(app: Flask, session: Session, shop: Shop, now: datetime) -> dict[str, Any]:
    """For the settings page: checked at most every few minutes, one quick try, so the page stays fast."""
    key = f"redress:connection:{shop.id}"
    try:
        hit = redis_conn(app).get(key)
    except Exception:  # without Redis the page checks every time, it does not fail
        hit = None
    if hit:
        status = json.loads(hit)
        status["last_delivery"] = last_delivery(session, shop.id)  # always current: it is ours
        return status
    status = check(app, session, shop, now, quick_retry(app, attempts=1, timeout=3.0))
    try:
        redis_conn(app).set(key, json.dumps(status), ex=PAGE_CACHE_SECONDS)
    except Exception:
        log.warning("could not cache the connection status of shop %s", shop.id, exc_info=True)
    return status


def describe(status: dict[str, Any]) -> list[str]:
    """The status in sentences, for the terminal."""
    lines = [f"Shop {status['shop_id']} ({status['platform']}, {status['domain']})"]
    cred = status["credentials"]
    lines.append("Credentials: they work." if cred["ok"] else f"Credentials: they do not work: {cred['error']}")
    hooks = status["webhooks"]
    if hooks["error"]:
        lines.append(f"Webhooks: {hooks['error']}.")
    elif hooks["ok"]:
        lines.append(f"Webhooks: all {len(hooks['subscribed'])} topics are subscribed to {hooks['url']}.")
    else:
        lines.append(f"Webhooks: missing {', '.join(hooks['missing'])} (to {hooks['url']}); "
                     f"run `redress shops subscribe {status['shop_id']}`.")
        if hooks["disabled"]:
            lines.append(f"  disabled by the store: {', '.join(hooks['disabled'])}")
    last = status["last_delivery"]
    lines.append(f"Last delivery: {last['topic']} at {last['received_at']}." if last
                 else "Last delivery: none received yet.")
    return lines
