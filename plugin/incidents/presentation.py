"""The incident JSON of CONTRACT.md, shared by the CLI and the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plugin.compensation.offers import offer_json
from plugin.messages.presentation import customer_json, message_json
from plugin.orders.facts import iso
from plugin.orders.money import fmt
from plugin.storage.models import Compensation, Incident, Order
from plugin.vocabulary import CompensationAction

# What the incident JSON reads, loaded with the incidents rather than one query each.
LOADS = (selectinload(Incident.order).selectinload(Order.shop), selectinload(Incident.order).selectinload(Order.items),
         selectinload(Incident.compensations), selectinload(Incident.messages), selectinload(Incident.notes))


def incident_json(inc: Incident, link: Callable[[int], str] | None = None) -> dict[str, Any]:
    """`link` makes an incident's status-page URL (it needs the app's secret); without it the URL is null."""
    o = inc.order
    return {
        "id": inc.id,
        "shop_id": inc.shop_id,
        "platform": o.shop.platform,
        "order": {
            "id": o.platform_order_id,
            "number": o.number,
            "customer_email": o.customer_email,
            "total": fmt(o.total, o.currency),
            "shipping": fmt(o.shipping, o.currency),
            "currency": o.currency,
            "country": o.country,
            "region": o.region,
            "carrier": o.carrier,
            "service": o.service,
            "items": [{"sku": i.sku, "title": i.title, "quantity": i.quantity} for i in o.items],
        },
        "kind": inc.kind,
        "responsibility": inc.responsibility,
        "status": inc.status,
        "opened_at": iso(inc.opened_at),
        "resolved_at": iso(inc.resolved_at) if inc.resolved_at else None,
        "evidence": list(inc.evidence),
        "compensations": [compensation_json(c) for c in inc.compensations],
        "customer": {**customer_json(inc, link), "offer": offer_json(inc)},
        "messages": [message_json(m) for m in inc.messages],
        "crisis_id": inc.crisis_id,
        "notes": [{"id": n.id, "text": n.text, "author": n.author, "created_at": iso(n.created_at)}
                  for n in inc.notes],
    }


def compensation_json(c: Compensation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id, "action": c.action, "amount": fmt(c.amount, c.currency), "currency": c.currency,
        "state": c.state, "platform_ref": c.platform_ref,
        # Why it is not issued yet, or why it failed: the store's own words.
        "error": c.error, "attempts": c.attempts,
    }
    if c.percent is not None:
        out["percent"] = format(c.percent.normalize(), "f")
    if CompensationAction(c.action).is_coupon:
        out["code"] = c.code
        out["expires_at"] = iso(c.expires_at) if c.expires_at else None
    return out


def list_incidents(session: Session, shop_id: int | None = None, status: str | None = None,
                   limit: int | None = None, link: Callable[[int], str] | None = None) -> list[dict[str, Any]]:
    q = (select(Incident)
         .options(*LOADS)
         .order_by(Incident.id))
    if shop_id is not None:
        q = q.where(Incident.shop_id == shop_id)
    if status is not None:
        q = q.where(Incident.status == status)
    if limit is not None:
        q = q.limit(limit)
    return [incident_json(i, link) for i in session.execute(q).scalars()]
