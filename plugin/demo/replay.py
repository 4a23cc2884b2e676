"""Sending the demo's day as the platforms would, and waiting until the instance has worked through it.

The deliveries go to the instance's own public URL, signed with each shop's webhook secret, paced over
the time asked for; then the workers' results (incidents, compensations, messages) are watched in the
database until nothing moves, crisis detection is asked for, and the result is watched again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from flask import Flask
from sqlalchemy import func, select

from plugin.demo.day import SHOPIFY_DOMAIN
from plugin.demo.errors import DemoError
from plugin.demo.payloads import Delivery
from plugin.demo.shops import DemoShops
from plugin.demo.stores import Stores, made
from plugin.extensions import config, db, redis_conn
from plugin.storage.models import Compensation, Crisis, Incident, Message, WebhookDelivery
from plugin.storage.queue import CRISES, MESSAGES, QUEUES, enqueue, queue
from plugin.vocabulary import CompensationState, MessageState, Platform

STALL_SECONDS = 90  # nothing moved for this long: no worker is taking the jobs
SETTLED_POLLS = 3


@dataclass
class Progress:
    sent: int = 0
    total: int = 0
    accepted: int = 0
    duplicates: int = 0
    figures: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        f = self.figures
        return (f"sent {self.sent}/{self.total} ({self.accepted} new, {self.duplicates} duplicates) · "
                f"processed {f.get('processed', 0)} · incidents {f.get('incidents', 0)} · "
                f"messages {f.get('messages', 0)} · refunds {f.get('refunds', 0)} · coupons {f.get('coupons', 0)}"
                + (f" · crises {f['crises']}" if f.get("crises") else ""))


Report = Callable[[Progress], None]


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers_for(d: Delivery, shops: DemoShops) -> tuple[str, dict[str, str]]:
    """The path a delivery is posted to, and the headers its platform signs it with."""
    if d.platform == Platform.SHOPIFY:
        return "/webhooks/shopify", {
            "X-Shopify-Topic": d.topic, "X-Shopify-Hmac-Sha256": sign(d.body, shops.shopify_secret),
            "X-Shopify-Shop-Domain": SHOPIFY_DOMAIN, "X-Shopify-API-Version": "2026-04",
            "X-Shopify-Webhook-Id": d.webhook_id, "X-Shopify-Triggered-At": d.at.isoformat(),
            "X-Shopify-Event-Id": d.webhook_id}
    resource, event = d.topic.split(".")
    return f"/webhooks/woocommerce/{shops.woocommerce_id}", {
        "User-Agent": "WooCommerce/10.2.1 Hookshot (WordPress/6.8.3)", "X-WC-Webhook-Source": "http://demo.local/",
        "X-WC-Webhook-Topic": d.topic, "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign(d.body, shops.woocommerce_secret), "X-WC-Webhook-ID": "16",
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex}


def send(base_url: str, d: Delivery, shops: DemoShops) -> str:
    """POST one delivery; "accepted" or "duplicate". A 503 or a refused connection is tried again, as the
    platforms do, for a while."""
    path, headers = headers_for(d, shops)
    last = ""
    for attempt in range(10):
        try:
            r = requests.post(base_url + path, data=d.body, timeout=10,
                              headers={"Content-Type": "application/json", **headers})
        except requests.RequestException as exc:
            last = f"{base_url} does not answer ({type(exc).__name__}): is `redress run` serving it?"
        else:
            if r.status_code == 200:
                return (r.json() or {}).get("status", "accepted")
            last = f"{base_url}{path} answered {r.status_code}: {r.text.strip()[:200]}"
            if r.status_code != 503:
                break
        time.sleep(min(0.5 * 2 ** attempt, 5))
    raise DemoError(last)


def figures(app: Flask, shops: DemoShops, stores: Stores) -> dict[str, int]:
    ids = (shops.shopify_id, shops.woocommerce_id)
    with db(app).session() as s:
        def count(q) -> int:
            return int(s.execute(q).scalar_one())
        out = {
            "received": count(select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.shop_id.in_(ids))),
            "processed": count(select(func.count()).select_from(WebhookDelivery).where(
                WebhookDelivery.shop_id.in_(ids), WebhookDelivery.processed_at.is_not(None))),
            "incidents": count(select(func.count()).select_from(Incident).where(Incident.shop_id.in_(ids))),
            "messages": count(select(func.count()).select_from(Message).where(
                Message.shop_id.in_(ids), Message.state == MessageState.SENT)),
            "queued": count(select(func.count()).select_from(Message).where(
                Message.shop_id.in_(ids), Message.state == MessageState.QUEUED)),
            "busy": count(select(func.count()).select_from(Compensation).join(Incident).where(
                Incident.shop_id.in_(ids), Compensation.state.in_((CompensationState.PLANNED,
                                                                   CompensationState.ISSUING)))),
            "crises": count(select(func.count()).select_from(Crisis).where(Crisis.shop_id.in_(ids))),
        }
    return {**out, **made(stores)}


def _jobs_waiting(app: Flask) -> int:
    conn = redis_conn(app)
    return sum(queue(conn, name).count for name in QUEUES)


def settle(app: Flask, shops: DemoShops, stores: Stores, progress: Progress, report: Report) -> None:
    """Wait until every delivery is processed and nothing is queued, planned or being issued, for a few
    polls in a row; fail when nothing has moved for STALL_SECONDS."""
    calm, moved_at, last = 0, time.monotonic(), None
    while calm < SETTLED_POLLS:
        time.sleep(1)
        now = figures(app, shops, stores)
        progress.figures = now
        report(progress)
        if now != last:
            moved_at, last = time.monotonic(), now
        done = now["processed"] == now["received"] and not now["queued"] and not now["busy"]
        calm = calm + 1 if done and now == last and not _jobs_waiting(app) else 0
        if time.monotonic() - moved_at > STALL_SECONDS:
            raise DemoError(f"nothing has moved for {STALL_SECONDS} s ({now['received'] - now['processed']} "
                            "deliveries unprocessed): is a worker running (`redress run`, or `redress worker`)?")


def replay(app: Flask, shops: DemoShops, stores: Stores, plan: list[Delivery], seconds: float,
           report: Report) -> Progress:
    progress = Progress(total=len(plan))
    base = config(app).public_url
    pause = seconds / max(len(plan), 1)
    for d in plan:
        outcome = send(base, d, shops)
        progress.sent += 1
        progress.accepted += outcome == "accepted"
        progress.duplicates += outcome == "duplicate"
        progress.figures = figures(app, shops, stores)
        report(progress)
        time.sleep(pause)
    settle(app, shops, stores, progress, report)
    conn = redis_conn(app)
    enqueue(conn, CRISES)  # the clock would look within a quarter of an hour; the demo does not wait for it
    enqueue(conn, MESSAGES)
    settle(app, shops, stores, progress, report)
    return progress
