"""Telling the shop's team what needs a person: the customer wrote on the status page, or says their problem
is not sorted. Each alert is a queued message to the team's addresses (in English: the shop's people read
the desk in English), recorded before it is sent, numbered so two alerts never take one row."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.messages.communication import EMAIL
from plugin.messages.records import next_sequence
from plugin.messages.terms import calendar_of, communication_of, shop_name
from plugin.orders.facts import iso
from plugin.storage.models import Incident, Message, Shop
from plugin.vocabulary import Audience, Channel, CompensationState, MessageState, Purpose

REASONS = {
    "reply": "the customer wrote on the status page",
    "not_sorted": "the customer says the problem is not sorted yet",
    "approval": "a compensation waits for your approval",
    "promise": "the answer promised to the customer is due soon",
}
URGENT = ("reply", "not_sorted")  # a person is waiting: always told at once
PER_HOUR = 5  # other alerts beyond this many an hour wait for the daily digest, which lists them all
PROMISE_WARNING = timedelta(hours=2)
SUBJECT_MAX = 300


def team_addresses(shop: Shop) -> tuple[str, ...]:
    """The team's addresses; a shop that named none hears at its contact address, else its owner's, so a
    customer's words never land where nobody reads them."""
    named = communication_of(shop).team_emails
    if named:
        return named
    contact = ((shop.policy or {}).get("contact") or {}).get("email")
    fallback = contact if isinstance(contact, str) and EMAIL.match(contact) else shop.owner_email
    return (fallback,) if fallback else ()


def chat_escaped(text: str) -> str:
    """Text as a Slack-compatible webhook shows it literally: `<!channel>` or `<https://…|label>` written by a
    customer would otherwise ping everyone or hide where a link goes."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def alert_team(session: Session, incident: Incident, reason: str, text: str, now: datetime,
               details: dict[str, Any] | None = None) -> list[Message]:
    """Record an alert about `incident` for the team's e-mail addresses and its chat webhook (none when the
    shop has neither, or when a flood of alerts this hour leaves it to the digest). The caller commits,
    then enqueues their sending."""
    order, shop = incident.order, incident.order.shop
    comm = communication_of(shop)
    if reason not in URGENT and _sent_this_hour(session, shop.id, now) >= PER_HOUR:
        return []
    what = REASONS.get(reason, reason.replace("_", " "))
    subject = f"{shop_name(shop)}, order {order.number or order.platform_order_id}: {what}"[:SUBJECT_MAX]
    body = _body(incident, what, text)
    team = team_addresses(shop)
    routes = [(Channel.EMAIL, ", ".join(team), body)] if team else []
    if comm.team_webhook_url:
        routes.append((Channel.WEBHOOK, comm.team_webhook_url, f"*{chat_escaped(subject)}*\n{chat_escaped(body)}"))
    first = next_sequence(session, incident.id, Purpose.TEAM_ALERT)
    out = [Message(shop_id=incident.shop_id, incident_id=incident.id, key=f"incident:{incident.id}:team:{reason}:{n}",
                   audience=Audience.TEAM, purpose=Purpose.TEAM_ALERT, sequence=n, channel=channel,
                   to_address=to, locale="en", state=MessageState.QUEUED, subject=subject, body_text=text_,
                   details={"reason": reason, **(details or {})}, created_at=now)
           for n, (channel, to, text_) in enumerate(routes, start=first)]
    session.add_all(out)
    session.flush()
    return out


def alerts_due(session: Session, incident: Incident, now: datetime) -> tuple[list[Message], datetime | None]:
    """What the team must hear of this incident now without anyone asking: compensations waiting for its
    approval, and an answer promised to the customer that is about to be late. Also when to look again."""
    said = [m.details or {} for m in incident.messages if m.audience == Audience.TEAM]
    out: list[Message] = []
    told_of = {c for d in said for c in d.get("compensations", [])}
    waiting = [c.id for c in incident.compensations
               if c.state == CompensationState.AWAITING_APPROVAL and c.id not in told_of]
    if waiting:
        out += alert_team(session, incident, "approval", "", now, {"compensations": waiting})
    due = incident.reply_due_at
    if due is None or any(d.get("promise") == iso(due) for d in said):
        return out, None
    if now < due - PROMISE_WARNING:
        return out, due - PROMISE_WARNING
    return out + alert_team(session, incident, "promise", "", now, {"promise": iso(due)}), None


def _sent_this_hour(session: Session, shop_id: int, now: datetime) -> int:
    return session.execute(select(func.count()).select_from(Message).where(
        Message.shop_id == shop_id, Message.audience == Audience.TEAM, Message.incident_id.is_not(None),
        Message.created_at > now - timedelta(hours=1))).scalar_one()


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
