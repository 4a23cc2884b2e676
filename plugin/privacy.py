"""Customers' and shops' data: export it on request, erase it on request, delete a shop that left.

Erasing a customer keeps the shop's anonymous counts: incidents stay with their kind, verdict and times,
but the order loses everything that names a person, and the raw deliveries that carried it are emptied.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, selectinload

from plugin.facts import ShopEvent, iso
from plugin.incident_json import incident_json
from plugin.models import DataExport, Incident, Message, Order, Shop, WebhookDelivery

PERSONAL_FACTS = ("customer_email", "customer_id", "customer_name")


def _customer_orders(session: Session, shop_id: int, email: str | None, order_ids) -> list[Order]:
    conditions = []
    if email:
        conditions.append(Order.customer_email == email)
    if order_ids:
        conditions.append(Order.platform_order_id.in_(list(order_ids)))
    if not conditions:
        return []
    return list(session.execute(
        select(Order).where(Order.shop_id == shop_id, or_(*conditions))
        .options(selectinload(Order.incidents).selectinload(Incident.compensations))
    ).scalars())


def export_customer(session: Session, shop: Shop, event: ShopEvent, now: datetime) -> DataExport:
    orders = _customer_orders(session, shop.id, event.customer_email, event.order_ids)
    incident_ids = [i.id for o in orders for i in o.incidents]
    messages = list(session.execute(select(Message).where(Message.incident_id.in_(incident_ids))).scalars()) \
        if incident_ids else []
    data: dict[str, Any] = {
        "shop": shop.domain, "customer_email": event.customer_email, "generated_at": iso(now),
        "orders": [{"id": o.platform_order_id, "number": o.number, "facts": o.facts} for o in orders],
        "incidents": [incident_json(i) for o in orders for i in o.incidents],
        "messages": [{"incident_id": m.incident_id, "channel": m.channel, "purpose": m.purpose,
                      "template": m.template, "locale": m.locale, "sent_at": iso(m.sent_at) if m.sent_at else None}
                     for m in messages],
    }
    export = DataExport(shop_id=shop.id, request_ref=event.request_ref, customer_email=event.customer_email,
                        created_at=now, data=json.loads(json.dumps(data, default=str)))
    session.add(export)
    return export


def erase_customer(session: Session, shop: Shop, event: ShopEvent) -> int:
    orders = _customer_orders(session, shop.id, event.customer_email, event.order_ids)
    ids = {o.platform_order_id for o in orders} | set(event.order_ids)
    for o in orders:
        o.customer_email = None
        # Incidents keep kind, verdict, times and evidence: the counts stay, the person goes.
        o.facts = {k: (None if k in PERSONAL_FACTS else v) for k, v in (o.facts or {}).items()}
    # Raw deliveries carry names and addresses: empty those about these orders or this customer.
    email = (event.customer_email or "").encode()
    for d in session.execute(select(WebhookDelivery).where(WebhookDelivery.shop_id == shop.id)).scalars():
        body = d.body or b""
        if (email and email in body) or _mentions(body, ids):
            d.body = b"{}"
            d.error = (d.error + "; " if d.error else "") + "body erased on the customer's request"
    if event.customer_email:
        session.execute(update(DataExport).where(DataExport.shop_id == shop.id,
                                                 DataExport.customer_email == event.customer_email)
                        .values(customer_email=None, data={}))
    return len(orders)


def _mentions(body: bytes, order_ids: set[str]) -> bool:
    if not order_ids:
        return False
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return False
    if not isinstance(payload, dict):
        return False
    candidates = {str(payload.get(k)) for k in ("id", "order_id", "legacyResourceId") if payload.get(k) is not None}
    return bool(candidates & order_ids)


def delete_shop(session: Session, shop: Shop) -> None:
    """Everything the shop's data touched goes; the database cascades from the shop row.

    Deliveries still held by the caller must be detached from the shop (shop_id None) beforehand.
    """
    session.flush()
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.shop_id == shop.id))
    session.delete(shop)
