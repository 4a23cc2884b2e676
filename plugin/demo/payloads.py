"""The webhook deliveries the demo's stories make, as the platforms send them: Shopify's REST-shaped order
bodies and WooCommerce's wc/v3 order representation. The same story and anchor give the same bytes (and
the same Shopify webhook ids), so a replay is recognised as duplicates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from plugin.demo.day import CURRENCY, TIMEZONE, Story
from plugin.vocabulary import Platform

LOCAL = ZoneInfo(TIMEZONE)
SHOPIFY_IDS = 5_630_000_000_000  # a Shopify order's id is this plus its number
LABELS = ("label_printed", "label_created")
TRACKSHIP = {"label_printed": "label_created", "attempted_delivery": "failed_attempt",
             "returned_to_sender": "return_to_sender"}  # Redress's words to TrackShip's where they differ


@dataclass(frozen=True)
class Delivery:
    platform: Platform
    topic: str
    body: bytes
    at: datetime  # when the news it carries happened: the replay sends the oldest first
    webhook_id: str  # Shopify's X-Shopify-Webhook-Id (WooCommerce keys a delivery by its topic and body)
    story: Story


def shopify_id(story: Story) -> str:
    return str(SHOPIFY_IDS + story.number)


def _ago(anchor: datetime, days: float) -> datetime:
    return (anchor - timedelta(days=days)).replace(microsecond=0)


def _latest(story: Story) -> float:
    """Days before the anchor of the story's latest news."""
    news = [story.placed]
    if story.parcel:
        news += [story.parcel.made, story.parcel.news]
    if story.cancelled or story.payment == "declined":
        news.append(story.placed - 0.01)
    return min(news)


def _topic(story: Story, platform: Platform) -> str:
    fresh = _latest(story) == story.placed
    if platform == Platform.SHOPIFY:
        return "orders/cancelled" if story.cancelled or story.payment == "declined" else (
            "orders/create" if fresh else "orders/updated")
    return "order.created" if fresh else "order.updated"


def delivery(story: Story, anchor: datetime) -> Delivery:
    body = shopify_order(story, anchor) if story.platform == Platform.SHOPIFY else woocommerce_order(story, anchor)
    topic = _topic(story, story.platform)
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Delivery(story.platform, topic, raw, _ago(anchor, _latest(story)),
                    f"redress-demo-{story.number}-{topic.replace('/', '-')}", story)


def deliveries(stories: list[Story], anchor: datetime) -> list[Delivery]:
    return sorted((delivery(s, anchor) for s in stories), key=lambda d: (d.at, d.story.number))


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


# -- Shopify -----------------------------------------------------------------------------------------------

def _stamp(dt: datetime) -> str:
    return dt.astimezone(LOCAL).isoformat()


def shopify_order(story: Story, anchor: datetime) -> dict[str, Any]:
    placed = _ago(anchor, story.placed)
    oid = shopify_id(story)
    p = story.parcel
    cancelled = story.cancelled or (story.payment == "declined" and "declined")
    financial = "voided" if story.payment == "declined" or story.cancelled == "customer" else "paid"
    return {
        "id": int(oid), "admin_graphql_api_id": f"gid://shopify/Order/{oid}", "name": f"#{story.number}",
        "order_number": story.number, "email": story.email, "contact_email": story.email,
        "created_at": _stamp(placed), "processed_at": _stamp(placed),
        "updated_at": _stamp(_ago(anchor, _latest(story))),
        "cancelled_at": _stamp(_ago(anchor, story.placed - 0.01)) if cancelled else None,
        "cancel_reason": cancelled or None, "financial_status": financial,
        "fulfillment_status": "fulfilled" if p else None, "currency": CURRENCY, "presentment_currency": CURRENCY,
        "customer_locale": story.language, "total_price": _money(story.total),
        "subtotal_price": _money(story.total - story.shipping),
        "total_shipping_price_set": {"shop_money": {"amount": _money(story.shipping), "currency_code": CURRENCY},
                                     "presentment_money": {"amount": _money(story.shipping),
                                                           "currency_code": CURRENCY}},
        "payment_gateway_names": ["shopify_payments"], "tags": "", "test": False,
        "customer": {"id": 8_100_000_000 + story.number, "email": story.email, "first_name": story.first_name,
                     "last_name": story.last_name, "admin_graphql_api_id":
                     f"gid://shopify/Customer/{8_100_000_000 + story.number}"},
        "shipping_address": _address(story),
        "shipping_lines": [{"id": 4_200_000 + story.number, "title": "Envío estándar", "code": "standard",
                            "price": _money(story.shipping), "source": "shopify"}],
        "line_items": [{"id": 13_000_000 + story.number * 10 + i, "sku": item.sku, "title": item.title,
                        "name": item.title, "quantity": item.quantity, "price": _money(item.price),
                        "requires_shipping": True, "fulfillable_quantity": 0 if p else item.quantity}
                       for i, item in enumerate(story.items)],
        "fulfillments": [_fulfillment(story, anchor)] if p else [],
        "refunds": [],
    }


def _address(story: Story) -> dict[str, Any]:
    country = {"ES": "Spain", "GB": "United Kingdom"}[story.country]
    return {"first_name": story.first_name, "last_name": story.last_name, "name": story.customer,
            "address1": "Calle Mayor 1" if story.country == "ES" else "1 High Street", "city": story.city,
            "zip": "36201" if story.region == "PO" else "28013" if story.country == "ES" else "SW1A 1AA",
            "province_code": story.region, "country_code": story.country, "country": country}


def _fulfillment(story: Story, anchor: datetime) -> dict[str, Any]:
    p = story.parcel
    assert p is not None
    return {"id": 4_900_000_000 + story.number, "order_id": int(shopify_id(story)), "status": "success",
            "created_at": _stamp(_ago(anchor, p.made)), "updated_at": _stamp(_ago(anchor, p.news)),
            "tracking_company": p.carrier, "tracking_number": p.number, "tracking_numbers": [p.number],
            "tracking_url": None, "shipment_status": p.status, "name": f"#{story.number}.1"}


# -- WooCommerce -------------------------------------------------------------------------------------------

def _gmt(dt: datetime) -> str:
    return dt.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S")


def _local(dt: datetime) -> str:
    return dt.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M:%S")


def _status(story: Story) -> str:
    if story.cancelled:
        return "cancelled"
    if story.payment == "declined":
        return "failed"
    p = story.parcel
    return "completed" if p and p.status not in LABELS else "processing"


def woocommerce_order(story: Story, anchor: datetime) -> dict[str, Any]:
    placed, modified = _ago(anchor, story.placed), _ago(anchor, _latest(story))
    status = _status(story)
    paid = story.payment == "paid" and not story.cancelled
    completed = _ago(anchor, story.parcel.made) if status == "completed" and story.parcel else None
    person = {"first_name": story.first_name, "last_name": story.last_name, "company": "",
              "address_1": "Calle Mayor 1" if story.country == "ES" else "1 High Street", "address_2": "",
              "city": story.city, "state": story.region, "postcode": "", "country": story.country}
    return {
        "id": story.number, "parent_id": 0, "number": str(story.number), "order_key": f"wc_order_demo{story.number}",
        "created_via": "checkout", "status": status, "currency": CURRENCY,
        "date_created": _local(placed), "date_created_gmt": _gmt(placed),
        "date_modified": _local(modified), "date_modified_gmt": _gmt(modified),
        "date_paid": _local(placed) if paid else None, "date_paid_gmt": _gmt(placed) if paid else None,
        "date_completed": _local(completed) if completed else None,
        "date_completed_gmt": _gmt(completed) if completed else None,
        "discount_total": "0.00", "shipping_total": _money(story.shipping), "total": _money(story.total),
        "total_tax": "0.00", "prices_include_tax": True, "customer_id": 0, "customer_note": "",
        "billing": {**person, "email": story.email, "phone": ""}, "shipping": person,
        "payment_method": "stripe", "payment_method_title": "Tarjeta (Stripe)",
        "transaction_id": f"ch_demo{story.number}" if paid else "",
        "meta_data": _meta(story, anchor),
        "line_items": [{"id": 300 + story.number * 10 + i, "name": item.title, "sku": item.sku,
                        "quantity": item.quantity, "price": float(item.price),
                        "subtotal": _money(item.price * item.quantity), "total": _money(item.price * item.quantity)}
                       for i, item in enumerate(story.items)],
        "shipping_lines": [{"id": 600 + story.number, "method_title": "Envío estándar", "method_id": "flat_rate",
                            "total": _money(story.shipping), "total_tax": "0.00", "taxes": [], "meta_data": []}],
        "tax_lines": [], "fee_lines": [], "coupon_lines": [], "refunds": [],
    }


def _meta(story: Story, anchor: datetime) -> list[dict[str, Any]]:
    meta: list[dict[str, Any]] = [{"id": 9000 + story.number * 10, "key": "wpml_language", "value": story.language}]
    p = story.parcel
    if p:
        made = _ago(anchor, p.made)
        meta.append({"id": 9001 + story.number * 10, "key": "_wc_shipment_tracking_items", "value": [{
            "tracking_provider": p.carrier, "custom_tracking_provider": "", "custom_tracking_link": "",
            "tracking_number": p.number, "date_shipped": str(int(made.timestamp())),
            "tracking_id": f"demo{story.number}"}]})
        meta.append({"id": 9002 + story.number * 10, "key": "ts_shipment_status", "value": [{
            "status": TRACKSHIP.get(p.status, p.status),
            "status_date": str(int(_ago(anchor, p.news).timestamp()))}]})
    return meta
