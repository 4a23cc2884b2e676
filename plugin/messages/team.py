"""Telling the shop's team what needs a person: the customer wrote on the status page, or says their problem
is not sorted. Each alert is a queued message to the team's addresses (in English: the shop's people read
the desk in English), recorded before it is sent, numbered so two alerts never take one row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from plugin.messages.records import next_sequence
from plugin.messages.terms import calendar_of, communication_of, shop_name
from plugin.orders.facts import iso
from plugin.storage.models import Incident, Message
from plugin.vocabulary import Audience, Channel, MessageState, Purpose

REASONS = {
    "reply": "the customer wrote on the status page",
    "not_sorted": "the customer says the problem is not sorted yet",
}
SUBJECT_MAX = 300


def alert_team(session: Session, incident: Incident, reason: str, text: str, now: datetime) -> Message | None:
    """Record an alert about `incident` for the team's e-mail addresses (None when the shop has none). The
    caller commits, then enqueues its sending."""
    order = incident.order
    shop = order.shop
    comm = communication_of(shop)
    if not comm.team_emails:
        return None
    what = REASONS.get(reason, reason.replace("_", " "))
    number = order.number or order.platform_order_id
    sequence = next_sequence(session, incident.id, Purpose.TEAM_ALERT)
    message = Message(
        shop_id=incident.shop_id, incident_id=incident.id, key=f"incident:{incident.id}:team:{reason}:{sequence}",
        audience=Audience.TEAM, purpose=Purpose.TEAM_ALERT, sequence=sequence, channel=Channel.EMAIL,
        to_address=", ".join(comm.team_emails), locale="en", state=MessageState.QUEUED,
        subject=f"{shop_name(shop)}, order {number}: {what}"[:SUBJECT_MAX],
        body_text=_body(incident, what, text), details={"reason": reason}, created_at=now)
    session.add(message)
    session.flush()
    return message


def _body(incident: Incident, what: str, text: str) -> str:
    order, shop = incident.order, incident.order.shop
    lines = [f"{what[0].upper()}{what[1:]}: order {order.number or order.platform_order_id} at {shop_name(shop)}."]
    if text:
        lines += ["", "In their words:", "", *(f"> {line}" for line in text.splitlines())]
    if incident.reply_due_at is not None:
        tz = calendar_of(shop).tz
        due = incident.reply_due_at.astimezone(tz)
        lines += ["", f"They were promised an answer by {due:%A %d %B %Y, %H:%M} ({tz.key})."]
    lines += ["", f"Incident {incident.id}: {incident.kind.replace('_', ' ')}, responsibility "
              f"{incident.responsibility}, status {incident.status}, opened {iso(incident.opened_at)}.",
              f"Customer: {order.customer_email or 'no e-mail address known'}."]
    return "\n".join(lines) + "\n"
