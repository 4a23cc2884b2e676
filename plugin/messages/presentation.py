"""The customer side of the incident JSON (CONTRACT.md, "Customer communication"), and messages as JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.messages.record import next_update, told
from plugin.orders.facts import iso
from plugin.storage.models import Incident, Message


def message_json(m: Message, with_incident: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": m.id, "audience": m.audience, "purpose": m.purpose, "channel": m.channel, "to": m.to_address,
        "locale": m.locale, "subject": m.subject, "state": m.state,
        "sent_at": iso(m.sent_at) if m.sent_at else None,
    }
    if with_incident:
        out = {"incident_id": m.incident_id, **out, "shop_id": m.shop_id, "sequence": m.sequence,
               "error": m.error, "attempts": m.attempts, "created_at": iso(m.created_at)}
    return out


def customer_json(inc: Incident, link: Callable[[int], str] | None) -> dict[str, Any]:
    """What the customer has been told and promised, what they chose and answered."""
    said = told(inc)
    due = next_update(inc)
    return {
        "locale": inc.locale, "status_url": link(inc.id) if link else None,
        "last_message_at": iso(max(t.at for t in said)) if said else None,
        "next_update_due_at": iso(due) if due else None,
        "offer": None,  # the offer belongs to compensation: the incident JSON fills it in
        "confirmed": inc.confirmed,
        "confirmed_at": iso(inc.confirmed_at) if inc.confirmed_at else None,
    }


def list_messages(session: Session, shop_id: int | None = None, incident_id: int | None = None,
                  limit: int | None = None) -> list[dict[str, Any]]:
    q = select(Message).order_by(Message.id)
    if shop_id is not None:
        q = q.where(Message.shop_id == shop_id)
    if incident_id is not None:
        q = q.where(Message.incident_id == incident_id)
    if limit is not None:
        q = q.limit(limit)
    return [message_json(m, with_incident=True) for m in session.execute(q).scalars()]
