"""What a customer message may speak of, as plain values for its template: the order, what went wrong and
since when, the parcel's last news, what was given, what changed since the last message and what comes next.
Nothing else reaches a template (merchants' templates run in a sandbox on exactly this)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from plugin.messages.communication import Communication
from plugin.messages.schedule import Due
from plugin.messages.terms import contact_links, contact_of, reply_to_of, shop_name
from plugin.orders.facts import OrderFacts, iso
from plugin.storage.models import Compensation, Incident, Shop
from plugin.vocabulary import Audience, CompensationAction, CompensationState, Kind


def customer_facts(incident: Incident, facts: OrderFacts, due: Due, promise: datetime | None, status_url: str,
                   comm: Communication) -> dict[str, Any]:
    order, shop = incident.order, incident.order.shop
    by_id = {c.id: c for c in incident.compensations}
    return {
        "shop_name": shop_name(shop), "sender_name": comm.sender_name,
        "customer_name": (facts.customer_name or "").split(" ")[0],
        "order_number": order.number or order.platform_order_id, "order_total": order.total,
        "currency": order.currency, "kind": str(incident.kind), "fault": str(incident.responsibility),
        "since": incident.late_since, "opened_at": incident.opened_at, **_parcel(facts),
        "compensations": [_given(by_id[c]) for c in due.compensations if c in by_id],
        # Everything the order's customer was given, whichever of its incidents gave it.
        "given": [_given(c) for i in order.incidents for c in i.compensations if c.state == CompensationState.ISSUED],
        "awaiting_approval": any(c.state == CompensationState.AWAITING_APPROVAL for c in incident.compensations),
        "offer": _offer(incident), "news": news(incident, facts), "next_update_at": promise, "status_url": status_url,
        "contact": _contact(shop), "reply_to": reply_to_of(shop, comm),
        # The customer said it is not sorted: until the team resolves it, updates are about the team's work.
        "not_sorted_at": incident.confirmed_at if incident.confirmed is False else None,
        "team_text": None,  # the team's own words, in an update written from the desk
    }


def _parcel(facts: OrderFacts) -> dict[str, Any]:
    tracked = next((s for s in facts.shipments if s.tracking_url or s.tracking_number), None)
    return {
        "carrier": facts.carrier, "shipped_at": facts.shipped_at, "delivered_at": facts.delivered_at,
        "estimated_delivery_at": facts.estimated_delivery_at, "last_scan_at": _last_scan(facts)[0],
        "tracking_url": tracked.tracking_url if tracked else None,
        "tracking_number": tracked.tracking_number if tracked else None,
    }


def _last_scan(facts: OrderFacts) -> tuple[datetime | None, str | None]:
    scans = [e for s in facts.shipments for e in s.events if e.happened_at]
    last = max(scans, key=lambda e: e.happened_at or datetime.min, default=None)
    return (last.happened_at, last.message) if last else (None, None)


def _given(c: Compensation) -> dict[str, Any]:
    return {"type": "coupon" if CompensationAction(c.action).is_coupon else "refund", "action": str(c.action),
            "amount": c.amount, "currency": c.currency, "percent": c.percent, "code": c.code,
            "expires_at": c.expires_at}


def _offer(incident: Incident) -> dict[str, Any] | None:
    """An offer still to be chosen from: its options and until when (then the first is given)."""
    offer = incident.offer
    if not isinstance(offer, dict) or not offer.get("options") or incident.offer_chosen is not None:
        return None
    options = [{"type": "coupon" if CompensationAction(o["action"]).is_coupon else "refund", "action": o["action"],
                "amount": o.get("amount"), "currency": o.get("currency"), "percent": o.get("percent"),
                "valid_days": o.get("valid_days")} for o in offer["options"]]
    deadline = offer.get("deadline")
    return {"options": options, "deadline": datetime.fromisoformat(deadline.replace("Z", "+00:00")) if deadline
            else None}


def _contact(shop: Shop) -> dict[str, str]:
    links = contact_links(contact_of(shop))
    return {"email": links.get("email", {}).get("label", ""), "phone": links.get("phone", {}).get("label", ""),
            "whatsapp": links.get("whatsapp", {}).get("label", ""),
            "whatsapp_url": links.get("whatsapp", {}).get("href", "")}


def seen(incident: Incident, facts: OrderFacts) -> dict[str, Any]:
    """What the customer knew after a message, to tell the next one what changed."""
    scan_at, _ = _last_scan(facts)
    return {"kind": str(incident.kind), "shipped_at": iso(facts.shipped_at) if facts.shipped_at else None,
            "last_scan_at": iso(scan_at) if scan_at else None,
            "estimated_delivery_at": iso(facts.estimated_delivery_at) if facts.estimated_delivery_at else None}


def news(incident: Incident, facts: OrderFacts) -> list[dict[str, Any]]:
    """What changed since the last message to the customer, oldest first."""
    last = next((m for m in reversed(incident.messages) if m.audience == Audience.CUSTOMER
                 and (m.details or {}).get("seen")), None)
    if last is None:
        return []
    before, now = last.details["seen"], seen(incident, facts)
    out: list[dict[str, Any]] = []
    if now["shipped_at"] and not before.get("shipped_at"):
        out.append({"what": "shipped", "at": facts.shipped_at})
    if now["last_scan_at"] and now["last_scan_at"] != before.get("last_scan_at"):
        at, message = _last_scan(facts)
        out.append({"what": "scan", "at": at, "message": message or ""})
    if now["estimated_delivery_at"] and now["estimated_delivery_at"] != before.get("estimated_delivery_at"):
        out.append({"what": "estimate", "at": facts.estimated_delivery_at})
    if now["kind"] != before.get("kind") and incident.kind == Kind.LOST:
        out.append({"what": "lost", "at": None})
    return out
