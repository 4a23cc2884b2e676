"""WooCommerce's wc/v3 webhook deliveries (the REST order representation) into OrderFacts changes.

Mapping decided here (documented in the README):
- status pending, on-hold, checkout-draft -> financial `pending`; processing, completed -> `paid`;
  refunded -> `refunded`; failed -> `failed`; cancelled -> cancelled, `paid` if it had been paid;
  any other (plugin) status -> `paid` if `date_paid_gmt` is set, else `unknown`.
- a cancelled order that had been paid was cancelled by the shop (`staff`): core lets customers cancel
  only unpaid orders, so an unpaid cancellation is the customer's (`unpaid`: abandoned or timed out).
- tracking from `_wc_shipment_tracking_items` (Shipment Tracking / Advanced Shipment Tracking), status
  from TrackShip's `ts_shipment_status`; a completed order with no tracking counts as handed over then, with
  a stand-in shipment that carries no tracking data (so nothing after hand-over is judged) until real
  tracking arrives and replaces it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.base import (
    Headers,
    PayloadError,
    country_code,
    currency,
    items,
    line_item,
    money,
    obj,
    required_id,
    text,
    unix_time,
    when,
)
from plugin.orders.facts import HANDED_OVER, Change, OrderFacts, Refund, Shipment, ShopEvent
from plugin.vocabulary import CancelReason, FinancialStatus

ORDER_TOPICS = {"order.created", "order.updated", "order.restored"}
PENDING = {"pending", "on-hold", "checkout-draft"}
PAID_STATUSES = {"processing", "completed"}  # WooCommerce order statuses of a paid order
TRACKSHIP = {
    "pre_transit": "label_purchased", "label_created": "label_purchased", "unknown": None,
    "in_transit": "in_transit", "out_for_delivery": "out_for_delivery",
    "available_for_pickup": "available_for_pickup", "on_hold": "delayed", "failure": "failure",
    "exception": "failure", "failed_attempt": "attempted_delivery", "return_to_sender": "returned_to_sender",
    "returned_to_sender": "returned_to_sender", "delivered": "delivered",
}


def shop_event(topic: str, payload: dict[str, Any]) -> ShopEvent | None:
    return None  # WooCommerce has no uninstall or privacy topics for REST apps


def topic(headers: Headers) -> str | None:
    return headers.get("X-WC-Webhook-Topic") or None


def delivery_key(headers: Headers, body: bytes) -> str | None:
    # WooCommerce gives no id that survives a re-delivery: the same topic and body is the same news.
    t = topic(headers) or ""
    return "woocommerce:" + hashlib.sha256(t.encode() + b"\n" + body).hexdigest()


def normalize(topic: str, payload: dict[str, Any], received_at: datetime) -> list[Change]:
    if topic in ORDER_TOPICS:
        facts = order_facts(payload)
        return [Change(order_id=facts.order_id, order=facts, restored=topic == "order.restored")]
    if topic == "order.deleted":
        return [Change(order_id=required_id(payload), deleted_at=received_at)]
    return []


def order_facts(p: dict[str, Any]) -> OrderFacts:
    status = (text(p.get("status")) or "").lower()
    billing = obj(p.get("billing"), "billing")
    shipping_addr = obj(p.get("shipping"), "shipping")
    paid_at = when(p.get("date_paid_gmt"))
    completed_at = when(p.get("date_completed_gmt"))
    modified = when(p.get("date_modified_gmt"))
    cancelled = status == "cancelled"
    shipments = _shipments_of(p, status, completed_at or modified, completed_at)
    names = [text(billing.get("first_name")), text(billing.get("last_name"))]
    # The shipping address when there is one (a virtual order has only the billing one).
    destination = shipping_addr if country_code(shipping_addr.get("country")) else billing
    return OrderFacts(
        order_id=required_id(p),
        number="#" + (text(p.get("number")) or required_id(p)),
        customer_email=text(billing.get("email")),
        customer_id=text(p.get("customer_id")) if p.get("customer_id") not in (0, "0", None) else None,
        customer_name=" ".join(n for n in names if n) or None,
        locale=_language(p),
        country=country_code(destination.get("country")),
        region=text(destination.get("state")),
        shipping_service=next((text(obj(s, "shipping line").get("method_title"))
                               for s in items(p.get("shipping_lines"), "shipping_lines")), None),
        total=money(p.get("total")),
        shipping=money(p.get("shipping_total")),
        currency=currency(p.get("currency")),
        financial_status=_financial(status, paid_at),
        fulfillment_status="fulfilled" if status == "completed" else "unfulfilled",
        platform_status=status or None,
        payment_gateway=text(p.get("payment_method_title")) or text(p.get("payment_method")),
        created_at=when(p.get("date_created_gmt")),
        paid_at=paid_at,
        # WooCommerce keeps no cancellation time: the modification that made it cancelled is the best one.
        cancelled_at=(modified or when(p.get("date_created_gmt"))) if cancelled else None,
        cancel_reason=(CancelReason.STAFF if paid_at else CancelReason.UNPAID) if cancelled else None,
        cancel_reason_raw="cancelled" if cancelled else None,
        updated_at=modified,
        shipments=shipments,
        # Virtual and downloadable orders carry no shipping line: nothing to ship, nothing to stall.
        requires_shipping=bool(items(p.get("shipping_lines"), "shipping_lines")),
        refunds=[_refund(obj(x, "refund")) for x in items(p.get("refunds"), "refunds")],
        items=[line_item(li.get("sku"), li.get("name"), li.get("quantity"))
               for li in (obj(x, "line item") for x in items(p.get("line_items"), "line_items"))],
    )


def _refund(r: dict[str, Any]) -> Refund:
    total = money(r.get("total"))  # negative in an order's refund list; absent from some plugins' entries
    return Refund(id=required_id(r), amount=abs(total or Decimal(0)), created_at=None, note=text(r.get("reason")))


def _financial(status: str, paid_at: datetime | None) -> FinancialStatus:
    if status in PENDING:
        return FinancialStatus.PENDING
    if status in PAID_STATUSES:
        return FinancialStatus.PAID
    if status in ("refunded", "failed"):
        return FinancialStatus(status)
    if paid_at:
        return FinancialStatus.PAID
    return FinancialStatus.PENDING if status == "cancelled" else FinancialStatus.UNKNOWN


def _shipments_of(p: dict[str, Any], status: str, shipped_at: datetime | None,
                  completed_at: datetime | None) -> list[Shipment]:
    """The tracked shipments, or for a completed order with none a stand-in that carries no tracking data."""
    shipments = _shipments(_meta(p.get("meta_data")))
    if status == "completed" and not shipments:
        shipments = [Shipment(id="completed", created_at=completed_at, updated_at=completed_at,
                              shipped_at=shipped_at, stand_in=True)]
    return shipments


# Where multilingual plugins record the language an order was placed in: WPML, Polylang, TranslatePress.
LANGUAGE_META = ("wpml_language", "_wpml_language", "pll_language", "_pll_language", "trp_language",
                 "_trp_language")


def _language(p: dict[str, Any]) -> str | None:
    meta = _meta(p.get("meta_data"))
    return next((text(meta[k]) for k in LANGUAGE_META if k in meta and isinstance(meta[k], str)), None)


def _meta(value: Any) -> dict[str, Any]:
    out = {}
    for entry in items(value, "meta_data"):
        entry = obj(entry, "meta_data entry")
        if isinstance(entry.get("key"), str):
            out[entry["key"]] = entry.get("value")
    return out


def _shipments(meta: dict[str, Any]) -> list[Shipment]:
    tracking = meta.get("_wc_shipment_tracking_items") or []
    if not isinstance(tracking, list):
        raise PayloadError("_wc_shipment_tracking_items should be a list")
    statuses = meta.get("ts_shipment_status")
    out = []
    for i, item in enumerate(tracking):
        item = obj(item, "tracking item")
        shipped = _unix_or_iso(item.get("date_shipped"))
        ts = _trackship(statuses, i)
        status = TRACKSHIP.get(ts, ts) if ts else None
        status_at = None
        if isinstance(statuses, list) and i < len(statuses) and isinstance(statuses[i], dict):
            status_at = _unix_or_iso(statuses[i].get("status_date"))
            est = _unix_or_iso(statuses[i].get("est_delivery_date"))
        else:
            est = None
        out.append(Shipment(
            id=text(item.get("tracking_id")) or text(item.get("tracking_number")) or str(i),
            status=status,
            carrier=text(item.get("custom_tracking_provider")) or text(item.get("tracking_provider")),
            tracking_number=text(item.get("tracking_number")),
            tracking_url=text(item.get("custom_tracking_link")),
            created_at=shipped,
            updated_at=status_at or shipped,
            shipped_at=shipped if (status is None or status in HANDED_OVER) else None,
            estimated_delivery_at=est,
            delivered_at=(status_at or shipped) if status == "delivered" else None,
        ))
    return out


def _trackship(statuses: Any, index: int) -> str | None:
    if isinstance(statuses, str):
        return statuses
    if isinstance(statuses, list) and index < len(statuses):
        entry = statuses[index]
        if isinstance(entry, dict):
            return text(entry.get("status"))
        return text(entry)
    return None


def _unix_or_iso(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PayloadError("not a time: a boolean")
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        return unix_time(value)
    return when(value)
