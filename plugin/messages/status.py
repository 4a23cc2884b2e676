"""The customer's status page: what it shows (the story of their order in plain events, what happens next and
by when, what they were given, how to reach the shop) and what the customer's answers do (a reply, "is it
sorted?"). Words are the templates' job; this module decides the facts and the moments. It takes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from plugin.messages import promises
from plugin.messages.record import language
from plugin.messages.record import next_update as next_update_of
from plugin.messages.records import next_sequence
from plugin.messages.team import alert_team
from plugin.messages.terms import calendar_of, communication_of, contact_links, contact_of, shop_name
from plugin.orders.facts import iso, parse_iso
from plugin.storage.models import Compensation, Incident, Message, Order
from plugin.vocabulary import (
    CUSTOMER_PURPOSES,
    OPEN_STATUSES,
    Audience,
    Channel,
    CompensationState,
    IncidentStatus,
    Locale,
    MessageState,
    Purpose,
)

REPLY_MAX = 5000  # characters, after trimming
# The customer's answers, as the incident's evidence records them (and the page tells them again).
ANSWER_SOURCE = "status page"
SAID_SORTED, SAID_NOT_SORTED = "the customer says it is sorted", "the customer says it is not sorted yet"
# What the customer sees of their compensations: withdrawn ones are not theirs any more.
SHOWN_STATES = (CompensationState.PLANNED, CompensationState.AWAITING_APPROVAL, CompensationState.ISSUING,
                CompensationState.ISSUED, CompensationState.FAILED)
# Events of one moment, in the order the story tells them.
ORDER_OF_EVENTS = ("placed", "paid", "shipped", "delivered", "opened", "message", "chosen", "compensation",
                   "reply", "answer", "resolved", "closed")


@dataclass(frozen=True)
class Event:
    at: datetime
    what: str  # one of ORDER_OF_EVENTS
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusView:
    incident: Incident
    order: Order
    shop_name: str
    tz: ZoneInfo
    timeline: list[Event]
    is_open: bool
    next_update_at: datetime | None  # open incidents: the latest moment of the next update
    update_overdue: bool
    reply_due_at: datetime | None  # the answer promised to the customer's last reply
    compensations: list[Compensation]
    contact: dict[str, dict[str, str]]  # email, phone, whatsapp: {"href", "label"}
    ask_if_sorted: bool
    offer_final: bool  # what the customer chose is being given: the choice can no longer change


class ReplyError(ValueError):
    """A reply that cannot be stored; `code` is "empty" or "too_long"."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def find_incident(session: Session, incident_id: int) -> Incident | None:
    return session.execute(
        select(Incident).where(Incident.id == incident_id)
        .options(selectinload(Incident.order).selectinload(Order.shop), selectinload(Incident.compensations),
                 selectinload(Incident.messages))).scalar_one_or_none()


def page_locale(asked: str | None, incident: Incident) -> Locale:
    """`?lang=` when it names a language the page is written in; else the language the customer is written to
    in; else the one Redress would choose for them: the order's, their country's, the shop's first."""
    if asked in (Locale.ES.value, Locale.EN.value):
        return Locale(asked)
    return language(incident)


def view(incident: Incident, now: datetime) -> StatusView:
    order, shop = incident.order, incident.order.shop
    cal = calendar_of(shop)
    is_open = incident.status in OPEN_STATUSES
    next_update = next_update_of(incident)
    return StatusView(
        incident=incident, order=order, shop_name=shop_name(shop), tz=cal.tz, timeline=timeline(incident),
        is_open=is_open, next_update_at=next_update, update_overdue=next_update is not None and next_update <= now,
        reply_due_at=incident.reply_due_at,
        compensations=[c for c in incident.compensations if c.state in SHOWN_STATES],
        contact=contact_links(contact_of(shop)),
        ask_if_sorted=incident.status == IncidentStatus.RESOLVED or incident.confirmed is not None,
        offer_final=offer_final(incident))


def offer_final(incident: Incident) -> bool:
    """A choice was made and what it gave is being issued or was issued."""
    chosen_at = incident.offer_chosen_at
    return incident.offer_chosen is not None and chosen_at is not None and any(
        c.state in (CompensationState.ISSUING, CompensationState.ISSUED) and c.created_at >= chosen_at
        for c in incident.compensations)


def _to_customer(m: Message) -> bool:
    return (m.audience == Audience.CUSTOMER and m.purpose in CUSTOMER_PURPOSES and m.state == MessageState.SENT
            and m.sent_at is not None)


def last_message_at(incident: Incident) -> datetime | None:
    """When the customer was last written to."""
    times = [m.sent_at for m in incident.messages if _to_customer(m) and m.sent_at is not None]
    return max(times) if times else None


def timeline(incident: Incident) -> list[Event]:
    """The order's story as the customer lived it, oldest first."""
    events = _order_events(incident.order)
    events.append(Event(incident.opened_at, "opened",
                        {"kind": incident.kind.value, "responsibility": incident.responsibility.value}))
    for m in incident.messages:
        if _to_customer(m) and m.sent_at is not None:
            events.append(Event(m.sent_at, "message", {"purpose": m.purpose.value, "subject": m.subject or ""}))
        elif m.purpose == Purpose.REPLY and m.audience == Audience.CUSTOMER:
            events.append(Event(m.sent_at or m.created_at, "reply", {"text": m.body_text}))
    for c in incident.compensations:
        if c.state == CompensationState.ISSUED:
            events.append(Event(c.updated_at, "compensation", {"compensation": c}))
    if incident.offer_chosen is not None and incident.offer_chosen_at is not None:
        events.append(Event(incident.offer_chosen_at, "chosen", {"index": incident.offer_chosen}))
    events.extend(_answers(incident))
    if incident.resolved_at is not None and incident.status in (IncidentStatus.RESOLVED, IncidentStatus.DISMISSED):
        what = "resolved" if incident.status == IncidentStatus.RESOLVED else "closed"
        events.append(Event(incident.resolved_at, what))
    return sorted(events, key=lambda e: (e.at, ORDER_OF_EVENTS.index(e.what)))


def _answers(incident: Incident) -> list[Event]:
    """Every answer to "is it sorted?", from the evidence; the last one alone when only it is known."""
    said = [Event(parse_iso(e["at"]), "answer", {"sorted": not e["fact"].startswith(SAID_NOT_SORTED)})
            for e in incident.evidence if isinstance(e, dict) and e.get("source") == ANSWER_SOURCE
            and isinstance(e.get("at"), str) and str(e.get("fact")).startswith((SAID_SORTED, SAID_NOT_SORTED))]
    if not said and incident.confirmed is not None and incident.confirmed_at is not None:
        said = [Event(incident.confirmed_at, "answer", {"sorted": incident.confirmed})]
    return said


def _order_events(order: Order) -> list[Event]:
    facts = order.facts or {}
    placed = facts.get("created_at")
    events = [Event(parse_iso(placed), "placed")] if isinstance(placed, str) else []
    if order.paid_at is not None:
        events.append(Event(order.paid_at, "paid"))
    if order.shipped_at is not None:
        events.append(Event(order.shipped_at, "shipped", {"carrier": order.carrier or ""}))
    if order.delivered_at is not None:
        events.append(Event(order.delivered_at, "delivered"))
    return events



def checked_reply(text: str | None) -> str:
    """The reply as stored: trimmed, 1 to REPLY_MAX characters; else ReplyError."""
    text = (text or "").strip()
    if not text:
        raise ReplyError("empty")
    if len(text) > REPLY_MAX:
        raise ReplyError("too_long")
    return text


def record_reply(session: Session, incident: Incident, text: str, locale: Locale,
                 now: datetime) -> tuple[Message, list[Message]]:
    """The customer's words as a message, the answer promised by the shop's reply time, and the team told.
    Returns the reply and the team's alerts (to send once committed)."""
    shop = incident.order.shop
    sequence = next_sequence(session, incident.id, Purpose.REPLY)
    incident.reply_due_at = promises.reply_due(now, communication_of(shop), calendar_of(shop))
    reply = Message(
        shop_id=incident.shop_id, incident_id=incident.id, key=f"incident:{incident.id}:reply:{sequence}",
        audience=Audience.CUSTOMER, purpose=Purpose.REPLY, sequence=sequence, channel=Channel.STATUS_PAGE,
        locale=locale.value, body_text=text, state=MessageState.SENT, sent_at=now, created_at=now,
        details={"reply_due_at": iso(incident.reply_due_at)})
    session.add(reply)
    session.flush()  # a number another request took is refused here, before the team hears of it
    return reply, alert_team(session, incident, "reply", text, now)


def record_answer(session: Session, incident: Incident, is_sorted: bool,
                  now: datetime) -> tuple[str, list[Message]]:
    """The customer's answer to "is it sorted?". "Not yet" on a resolved incident opens it again for the team
    (unless another open incident of the order and kind covers it), promises an answer like a reply does and
    alerts the team. Returns what happened ("sorted", "reopened", "kept_closed", "not_sorted") and the alert."""
    incident.confirmed, incident.confirmed_at = is_sorted, now
    if is_sorted:
        _note(incident, now, SAID_SORTED)
        return "sorted", []
    outcome = "not_sorted"
    if incident.status == IncidentStatus.RESOLVED:
        outcome = "reopened" if _reopen(session, incident) else "kept_closed"
    shop = incident.order.shop
    incident.reply_due_at = promises.reply_due(now, communication_of(shop), calendar_of(shop))
    _note(incident, now, SAID_NOT_SORTED + {"reopened": "; reopened for the team",
                                            "kept_closed": "; another open incident of this order covers it",
                                            "not_sorted": ""}[outcome])
    return outcome, alert_team(session, incident, "not_sorted", "", now)


def _reopen(session: Session, incident: Incident) -> bool:
    """Open again, unless the order has another open incident of this kind (one open per order and kind)."""
    other = session.execute(select(Incident.id).where(
        Incident.order_id == incident.order_id, Incident.kind == incident.kind, Incident.id != incident.id,
        Incident.status.in_(OPEN_STATUSES))).first()
    if other is not None:
        return False
    try:
        with session.begin_nested():
            incident.status, incident.resolved_at = IncidentStatus.OPEN, None
            incident.next_message_at = datetime.now(UTC)  # updates resume; a new resolution is told again
    except IntegrityError:  # one was opened meanwhile
        return False
    return True


def _note(incident: Incident, now: datetime, fact: str) -> None:
    incident.evidence = [*incident.evidence, {"at": iso(now), "source": ANSWER_SOURCE, "fact": fact}]
