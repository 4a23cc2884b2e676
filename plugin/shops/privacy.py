"""Customers' and shops' data: export it on request, erase it on request, delete a shop that left.

Erasing a customer keeps the shop's anonymous counts: incidents stay with their kind, verdict and times,
but the order loses everything that names a person, and the raw deliveries that carried it are emptied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, LargeBinary, delete, literal, or_, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.functions import FunctionElement

from plugin.incidents.presentation import incident_json
from plugin.orders.facts import ShopEvent, iso
from plugin.storage.models import DataExport, Incident, IncidentNote, Message, Order, Shop, WebhookDelivery
from plugin.vocabulary import Audience

PERSONAL_FACTS = ("customer_email", "customer_id", "customer_name")
# Raw deliveries are read this many at a time: a shop's whole inbox never sits in memory at once.
DELIVERY_PAGE = 100


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
    ids = {o.platform_order_id for o in orders} | set(event.order_ids)
    data: dict[str, Any] = {
        "shop": shop.domain, "customer_email": event.customer_email, "generated_at": iso(now),
        "orders": [{"id": o.platform_order_id, "number": o.number, "facts": o.facts} for o in orders],
        "incidents": [incident_json(i) for o in orders for i in o.incidents],
        "messages": [{"incident_id": m.incident_id, "audience": m.audience, "purpose": m.purpose,
                      "channel": m.channel, "to": m.to_address, "locale": m.locale, "subject": m.subject,
                      "text": m.body_text, "sent_at": iso(m.sent_at) if m.sent_at else None}
                     for m in messages if m.audience == Audience.CUSTOMER],
        # The raw deliveries that carried this customer's data: the same ones an erasure would empty.
        "deliveries": [{"topic": d.topic, "received_at": iso(d.received_at), "body": _readable(d.body)}
                       for d in customer_deliveries(session, shop.id, event.customer_email, ids)],
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
    # What was written to them, and their own words, named them: the bodies go, the record that a message
    # went (purpose and time, for the shop's promises and analytics) stays.
    incident_ids = [i.id for o in orders for i in o.incidents]
    if incident_ids:
        session.execute(update(Message).where(Message.incident_id.in_(incident_ids))
                        .values(to_address=None, subject=None, body_text="", body_html=None, details={}))
        # The team's notes may name them too.
        session.execute(update(IncidentNote).where(IncidentNote.incident_id.in_(incident_ids))
                        .values(text="(erased on the customer's request)"))
    # Raw deliveries carry names and addresses: empty those about these orders or this customer.
    for d in customer_deliveries(session, shop.id, event.customer_email, ids):
        d.body = b"{}"
        d.error = (d.error + "; " if d.error else "") + "body erased on the customer's request"
    if event.customer_email:
        session.execute(update(DataExport).where(DataExport.shop_id == shop.id,
                                                 DataExport.customer_email == event.customer_email)
                        .values(customer_email=None, data={}))
    return len(orders)


class _contains_bytes(FunctionElement):
    """`haystack` holds the bytes `needle` (a byte-wise search on both backends, no LIKE wildcards)."""

    type = Boolean()
    inherit_cache = True


@compiles(_contains_bytes)
def _contains_bytes_sqlite(element, compiler, **kw):
    haystack, needle = (compiler.process(c, **kw) for c in element.clauses)
    return f"(instr({haystack}, {needle}) > 0)"


@compiles(_contains_bytes, "postgresql")
def _contains_bytes_postgresql(element, compiler, **kw):
    haystack, needle = (compiler.process(c, **kw) for c in element.clauses)
    return f"(position({needle} in {haystack}) > 0)"


def customer_deliveries(session: Session, shop_id: int, email: str | None,
                        order_ids: Iterable[str]) -> Iterator[WebhookDelivery]:
    """The shop's deliveries that name this customer or one of these orders, a page at a time.

    The database picks the candidates (the email or an order id somewhere in the body), so other
    customers' bodies are never loaded; each candidate is then checked exactly as before.
    """
    needle = (email or "").encode()
    ids = {str(i) for i in order_ids}
    candidates = ([_contains_bytes(WebhookDelivery.body, literal(needle, LargeBinary))] if needle else []) + \
        [_contains_bytes(WebhookDelivery.body, literal(i.encode(), LargeBinary)) for i in sorted(ids) if i]
    if not candidates:
        return
    last = 0
    while True:
        page = list(session.execute(
            select(WebhookDelivery).where(WebhookDelivery.shop_id == shop_id, WebhookDelivery.id > last,
                                          or_(*candidates))
            .order_by(WebhookDelivery.id).limit(DELIVERY_PAGE)).scalars())
        for d in page:
            body = d.body or b""
            if (needle and needle in body) or _mentions(body, ids):
                yield d
        if len(page) < DELIVERY_PAGE:
            return
        last = page[-1].id


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return value


def _readable(body: bytes | None) -> Any:
    """The body as JSON when it is plain JSON, else as text (NaN or 1e999 could not be stored as JSON)."""
    try:
        return json.loads(body or b"null", parse_float=_finite, parse_constant=_finite)
    except (ValueError, RecursionError):
        return (body or b"").decode("utf-8", "replace")


def _mentions(body: bytes, order_ids: set[str]) -> bool:
    if not order_ids:
        return False
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, RecursionError):  # not JSON, or nested too deep to be an order
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
