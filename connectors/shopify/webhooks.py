"""Shopify's webhook deliveries (REST-shaped JSON bodies) into OrderFacts changes.

Mapping decided here (documented in the README):
- `financial_status` is kept as Shopify names it (pending, authorized, partially_paid, paid,
  partially_refunded, refunded, voided, expired); anything else becomes `unknown`.
- `cancel_reason`: customer -> customer, declined -> payment_declined ("the payment was declined"),
  fraud -> fraud, inventory -> inventory, staff -> staff, other -> other.
"""

from __future__ import annotations

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
    when,
)
from connectors.shopify import admin
from connectors.shopify.vocabulary import CANCEL_REASONS, CAPTURED, FINANCIAL, ORDER_TOPICS, F
from plugin.orders.facts import (
    HANDED_OVER,
    Change,
    OrderFacts,
    Refund,
    Shipment,
    ShopEvent,
    ShopEventKind,
    TrackingEvent,
)
from plugin.vocabulary import CancelReason


def shop_event(topic: str, payload: dict[str, Any]) -> ShopEvent | None:
    """The app's uninstall and the mandatory privacy topics."""
    if topic == "app/uninstalled":
        return ShopEvent(ShopEventKind.UNINSTALLED)
    if topic == "shop/redact":
        return ShopEvent(ShopEventKind.REDACT_SHOP)
    if topic in ("customers/data_request", "customers/redact"):
        customer = obj(payload.get("customer"), "customer")
        ids = items(payload.get("orders_requested") if topic == "customers/data_request"
                    else payload.get("orders_to_redact"), "orders")
        request = obj(payload.get("data_request"), "data_request")
        kind = ShopEventKind.DATA_REQUEST if topic == "customers/data_request" else ShopEventKind.REDACT_CUSTOMER
        return ShopEvent(kind,
                         customer_email=text(customer.get("email")), order_ids=tuple(str(i) for i in ids),
                         request_ref=text(request.get("id")))
    return None


def topic(headers: Headers) -> str | None:
    return headers.get("X-Shopify-Topic") or None


def delivery_key(headers: Headers, body: bytes) -> str | None:
    wid = headers.get("X-Shopify-Webhook-Id")
    return f"shopify:{wid}" if wid else None


RECONCILED = "reconcile/order"  # an order node fetched from the Admin GraphQL API


def normalize(topic: str, payload: dict[str, Any], received_at: datetime) -> list[Change]:
    if topic == RECONCILED:
        facts = admin.order_facts(payload)
        return [Change(order_id=facts.order_id, order=facts)]
    if topic in ORDER_TOPICS:
        facts = order_facts(payload)
        return [Change(order_id=facts.order_id, order=facts)]
    if topic == "orders/delete":
        return [Change(order_id=required_id(payload), deleted_at=received_at)]
    if topic in ("fulfillments/create", "fulfillments/update"):
        return [Change(order_id=required_id(payload, "order_id"), shipment=shipment(payload))]
    if topic == "fulfillment_events/create":
        event = TrackingEvent(
            id=required_id(payload),
            status=text(payload.get("status")) or "unknown",
            happened_at=when(payload.get("happened_at")) or when(payload.get("created_at")),
            message=text(payload.get("message")),
            estimated_delivery_at=when(payload.get("estimated_delivery_at")),
        )
        return [Change(order_id=required_id(payload, "order_id"), event=event,
                       event_shipment_id=required_id(payload, "fulfillment_id"))]
    if topic == "refunds/create":
        amount: Decimal | None = None
        for t in items(payload.get("transactions"), "transactions"):
            t = obj(t, "transaction")
            if t.get("kind") == "refund" and t.get("status") in (None, "success"):
                amount = (amount or Decimal(0)) + (money(t.get("amount")) or Decimal(0))
        refund = Refund(id=required_id(payload), amount=amount, created_at=when(payload.get("created_at")),
                        note=text(payload.get("note")))
        return [Change(order_id=required_id(payload, "order_id"), refund=refund)]
    return []


def order_facts(p: dict[str, Any]) -> OrderFacts:
    customer = obj(p.get("customer"), "customer")
    address = obj(p.get("shipping_address"), "shipping_address") or obj(
        p.get("billing_address"), "billing_address")
    financial = (text(p.get("financial_status")) or "").lower()
    reason_raw = text(p.get("cancel_reason"))
    cancelled_at = when(p.get("cancelled_at"))
    shipping = _shipping(p)
    name_parts = [text(customer.get("first_name")), text(customer.get("last_name"))]
    return OrderFacts(
        order_id=required_id(p),
        number=text(p.get("name")) or text(p.get("order_number")),
        customer_email=text(p.get("email")) or text(p.get("contact_email")) or text(customer.get("email")),
        customer_id=text(customer.get("admin_graphql_api_id")) or text(customer.get("id")),
        customer_name=" ".join(x for x in name_parts if x) or None,
        locale=text(p.get("customer_locale")),
        country=country_code(address.get("country_code")),
        region=text(address.get("province_code")),
        shipping_service=_service(p),
        total=money(p.get("total_price")),
        shipping=shipping,
        currency=currency(p.get("currency")),
        financial_status=FINANCIAL.get(financial, F.UNKNOWN) if financial else None,
        fulfillment_status=_fulfillment_status(text(p.get("fulfillment_status"))),
        platform_status=financial or None,
        payment_gateway=", ".join(str(g) for g in items(p.get("payment_gateway_names"), "gateways")) or None,
        created_at=when(p.get("created_at")),
        paid_at=when(p.get("processed_at")) if financial in CAPTURED else None,
        cancelled_at=cancelled_at,
        cancel_reason=(CANCEL_REASONS.get(reason_raw or "", CancelReason.OTHER) if cancelled_at else None),
        cancel_reason_raw=reason_raw,
        updated_at=when(p.get("updated_at")),
        tags=[t.strip() for t in (text(p.get("tags")) or "").split(",") if t.strip()],
        requires_shipping=_requires_shipping(p),
        shipments=[shipment(f) for f in items(p.get("fulfillments"), "fulfillments")],
        refunds=[Refund(id=required_id(r), amount=None, created_at=when(r.get("created_at")),
                        note=text(r.get("note")))
                 for r in (obj(x, "refund") for x in items(p.get("refunds"), "refunds"))],
        items=[line_item(li.get("sku"), li.get("title") or li.get("name"), li.get("quantity"))
               for li in (obj(x, "line item") for x in items(p.get("line_items"), "line_items"))],
    )


def _service(p: dict[str, Any]) -> str | None:
    lines = [obj(s, "shipping line") for s in items(p.get("shipping_lines"), "shipping_lines")]
    return next((text(s.get("title")) or text(s.get("code")) for s in lines if s.get("title") or s.get("code")), None)


def _shipping(p: dict[str, Any]) -> Decimal | None:
    """What the customer paid for shipping, in the shop's currency (the shipping lines when there is no total)."""
    shipping = _shop_money(p.get("total_shipping_price_set"))
    if shipping is None:
        shipping = sum((money(obj(s, "shipping line").get("price")) or Decimal(0)
                        for s in items(p.get("shipping_lines"), "shipping_lines")), start=Decimal(0))
    return shipping


def shipment(f: dict[str, Any]) -> Shipment:
    f = obj(f, "fulfillment")
    status = text(f.get("shipment_status"))
    created = when(f.get("created_at"))
    updated = when(f.get("updated_at"))
    fstatus = text(f.get("status"))
    # Without carrier scans, a successful fulfillment is the best evidence of hand-over we get.
    shipped = None
    if status in HANDED_OVER or (status is None and fstatus == "success"):
        shipped = created
    return Shipment(
        id=required_id(f),
        status=status or (fstatus if fstatus in ("cancelled", "error", "failure") else None),
        carrier=text(f.get("tracking_company")),
        tracking_number=text(f.get("tracking_number")),
        tracking_url=text(f.get("tracking_url")),
        created_at=created,
        updated_at=updated,
        shipped_at=shipped,
        delivered_at=updated if status == "delivered" else None,
    )


def _requires_shipping(p: dict[str, Any]) -> bool:
    lines = [obj(li, "line item") for li in items(p.get("line_items"), "line_items")]
    if not lines:
        return bool(items(p.get("shipping_lines"), "shipping_lines"))
    return any(li.get("requires_shipping", True) is not False for li in lines)


def _fulfillment_status(value: str | None) -> str:
    if value in ("fulfilled", "shipped"):
        return "fulfilled"
    if value == "partial":
        return "partial"
    return "unfulfilled"


def _shop_money(value: Any):
    if value is None:
        return None
    shop_money = obj(obj(value, "price set").get("shop_money"), "shop_money")
    if not shop_money:
        raise PayloadError("price set without shop_money")
    return money(shop_money.get("amount"))
