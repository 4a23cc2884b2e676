"""Signed deliveries as Shopify and WooCommerce send them, and a few shop helpers."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from plugin.extensions import config, db, vault
from plugin.shops.connect import add_shopify, add_woocommerce

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SHOP_DOMAIN = "snowdevil.myshopify.com"
SHOP_SECRET = "shop-webhook-secret"
WC_SECRET = "test-secret-NOT-REAL-0123456789"  # the secret the fixture delivery was signed with
CLOSED_PORT_ADMIN = "http://127.0.0.1:9/admin/api/2026-04/graphql.json"


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_sample(name: str = "orders_create") -> dict[str, Any]:
    return json.loads((FIXTURES / "shopify" / f"{name}.json").read_text())


def _recent(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)


def shopify_order(**changes) -> dict[str, Any]:
    """Shopify's sample order, placed an hour ago (the sample itself dates from 2021)."""
    order = shopify_sample("orders_create")
    placed = _recent(1).isoformat()
    order.update(created_at=placed, processed_at=placed, updated_at=placed)
    order.update(changes)
    return order


def wc_order(**changes) -> dict[str, Any]:
    """The WooCommerce fixture order, placed an hour ago and shipped half an hour ago."""
    order = json.loads((FIXTURES / "woocommerce" / "synthetic_webhook_order_updated.body.json").read_text())
    order = copy.deepcopy(order)
    placed = _recent(1).strftime("%Y-%m-%dT%H:%M:%S")
    order.update(date_created_gmt=placed, date_paid_gmt=placed, date_modified_gmt=placed)
    for meta in order["meta_data"]:
        if meta["key"] == "_wc_shipment_tracking_items":
            meta["value"][0]["date_shipped"] = str(int(_recent(0.5).timestamp()))
    order.update(changes)
    return order


def daytime_zone(now: datetime | None = None) -> str:
    """A time zone where it is about midday now, so a test's messages are never held back by the default
    quiet hours (22:00-08:00 shop time) whatever time the suite runs at. The Etc/GMT names count the other way."""
    offset = 12 - (now or datetime.now(UTC)).hour
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def wake(app) -> str:
    """Every shop in a daytime zone (see `daytime_zone`); returns the zone."""
    from plugin.storage.models import Shop

    zone = daytime_zone()
    with db(app).session() as s:
        for shop in s.query(Shop):
            shop.timezone = zone
        s.commit()
    return zone


def connect_shopify(app, secret: str | None = SHOP_SECRET, domain: str = SHOP_DOMAIN, admin_url: str | None = None):
    with db(app).session() as s:
        # Nothing listens on port 9: tests that do not bring a platform fake never reach the internet.
        shop, token, _ = add_shopify(s, vault(app), config(app), domain=domain, token="shpat_test",
                                     webhook_secret=secret, admin_url=admin_url or CLOSED_PORT_ADMIN)
        s.commit()
        return shop.id, token


def connect_woocommerce(app, url: str = "http://127.0.0.1:9", secret: str = WC_SECRET, api_refund: bool = True):
    with db(app).session() as s:
        shop, token, _ = add_woocommerce(s, vault(app), config(app), url=url, key="ck_test", secret="cs_test",
                                         webhook_secret=secret, api_refund=api_refund)
        s.commit()
        return shop.id, token


def post_shopify(client, payload: dict | bytes, topic: str = "orders/updated", secret: str = SHOP_SECRET,
                 webhook_id: str | None = None, domain: str = SHOP_DOMAIN, headers: dict | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-API-Version": "2026-04",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-11-22T10:00:00.000000Z",
        "X-Shopify-Event-Id": str(uuid.uuid4()),
    }
    h.update(headers or {})
    return client.post("/webhooks/shopify", data=body, headers={k: v for k, v in h.items() if v is not None})


def post_wc(client, shop_id: int, payload: dict | bytes, topic: str = "order.updated", secret: str = WC_SECRET,
            headers: dict | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    resource, event = topic.split(".")
    h = {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/10.2.1 Hookshot (WordPress/6.8.3)",
        "X-WC-Webhook-Source": "http://127.0.0.1:8080/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": sign(body, secret),
        "X-WC-Webhook-ID": "16",
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
    }
    h.update(headers or {})
    return client.post(f"/webhooks/woocommerce/{shop_id}", data=body,
                       headers={k: v for k, v in h.items() if v is not None})
