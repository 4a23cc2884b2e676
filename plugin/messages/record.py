"""Recording what an incident's customer is owed: the schedule says which message is due, the words are
composed, and the row is added (unique per incident × purpose × sequence) for the caller to commit before
anything is sent. The incident keeps when to look again."""

from __future__ import annotations

import logging
from datetime import datetime
from email.utils import formataddr, parseaddr
from typing import Any

from sqlalchemy.orm import Session

from plugin.messages.communication import EMAIL, Communication
from plugin.messages.compose import TemplateProblem, compose, sample_facts
from plugin.messages.language import choose
from plugin.messages.schedule import Case, Due, Told, next_messages, promised_update
from plugin.messages.story import customer_facts, seen
from plugin.messages.team import alerts_due
from plugin.messages.terms import calendar_of, communication_of, languages_of, reply_to_of, shop_name
from plugin.orders.calendars import Calendar
from plugin.orders.facts import OrderFacts, iso
from plugin.storage.models import Incident, Message, Shop
from plugin.vocabulary import (
    CUSTOMER_PURPOSES,
    OPEN_STATUSES,
    Audience,
    Channel,
    CompensationState,
    Kind,
    Locale,
    MessageState,
    Purpose,
)

log = logging.getLogger(__name__)


def told(incident: Incident) -> list[Told]:
    # From when each was recorded, as the promise written in it was: a message the mail server took late
    # must not push the next update past the time that message promised.
    return [Told(m.purpose, m.sequence, m.created_at) for m in incident.messages
            if m.audience == Audience.CUSTOMER and m.purpose in CUSTOMER_PURPOSES]


def follows_up(incident: Incident) -> bool:
    """Whether the customer gets updates until the incident is resolved: while they wait for the parcel, and
    while the team looks at an incident they said is not sorted."""
    return Kind(incident.kind).family.awaits_delivery or incident.confirmed is False


def next_update(incident: Incident) -> datetime | None:
    """The next update promised to a customer still waiting (for the parcel, or for the team): the longest
    silence after the last message (or after the opening, before the first), pulled back before quiet hours."""
    if incident.status not in OPEN_STATUSES or not follows_up(incident):
        return None
    shop = incident.order.shop
    said = told(incident) or [Told(Purpose.OPENED, 0, incident.opened_at)]
    return promised_update(said, communication_of(shop), calendar_of(shop))


def case_of(incident: Incident) -> Case:
    named = {cid for m in incident.messages for cid in (m.details or {}).get("compensations", [])}
    comps = incident.compensations
    return Case(
        status=incident.status, opened_at=incident.opened_at, resolved_at=incident.resolved_at,
        reachable=bool(incident.order.customer_email and EMAIL.match(incident.order.customer_email)),
        issuing=any(c.state in (CompensationState.PLANNED, CompensationState.ISSUING) for c in comps),
        unannounced=tuple(c.id for c in comps if c.state == CompensationState.ISSUED and c.id not in named),
        follows_up=follows_up(incident),
        superseded=any(i is not incident and i.status in OPEN_STATUSES for i in incident.order.incidents),
        reopened_at=incident.confirmed_at if incident.confirmed is False else None,
    )


def consider(session: Session, incident: Incident, now: datetime, status_url: str, channel: Channel,
             mail_from: str) -> list[Message]:
    """Add the messages due now, the customer's and the team's; set when to look at this incident again."""
    shop = incident.order.shop
    comm, cal = communication_of(shop), calendar_of(shop)
    added: list[Message] = []
    for _ in range(len(CUSTOMER_PURPOSES)):  # each message recorded changes what is due next
        nxt = next_messages(case_of(incident), told(incident), comm, cal, now)
        incident.next_message_at = nxt.look_again_at
        if not nxt.due:
            break
        for due in nxt.due:
            added.append(_record(session, incident, due, now, status_url, channel, mail_from))
    team, look = alerts_due(session, incident, now)
    later = [t for t in (incident.next_message_at, look) if t is not None]
    incident.next_message_at = min(later) if later else None
    return added + team


def language(incident: Incident) -> Locale:
    if incident.locale:
        return Locale(incident.locale)
    facts = incident.order.facts or {}
    return choose(facts.get("locale"), facts.get("country"), languages_of(incident.order.shop))


def _record(session: Session, incident: Incident, due: Due, now: datetime, status_url: str, channel: Channel,
            mail_from: str, extra: dict[str, Any] | None = None, shops_template: bool = True) -> Message:
    shop, order = incident.order.shop, incident.order
    comm, cal = communication_of(shop), calendar_of(shop)
    locale = language(incident)
    incident.locale = locale
    after = [*told(incident), Told(due.purpose, due.sequence, now)]
    promise = promised_update(after, comm, cal) if _promises_more(incident, due) else None
    facts = OrderFacts.from_json(order.facts) if order.facts else OrderFacts(order_id=order.platform_order_id)
    words = {**customer_facts(incident, facts, due, promise, status_url, comm), **(extra or {})}
    composed = _compose(due.purpose, locale, cal, now, words, shop if shops_template else None)
    msg = Message(
        shop_id=shop.id, key=f"incident:{incident.id}:{due.purpose}:{due.sequence}", audience=Audience.CUSTOMER,
        purpose=due.purpose, sequence=due.sequence, channel=channel, to_address=order.customer_email,
        locale=locale, subject=composed.subject[:300], body_text=composed.text, body_html=composed.html,
        state=MessageState.QUEUED, created_at=now,
        details={"compensations": list(due.compensations), "next_update_at": iso(promise) if promise else None,
                 "seen": seen(incident, facts), **_headers(shop, comm, mail_from)},
    )
    incident.messages.append(msg)
    session.add(msg)
    return msg


def _promises_more(incident: Incident, due: Due) -> bool:
    # Nothing more is promised once the incident is closed (a compensation or the team's words after it).
    return due.purpose != Purpose.RESOLVED and incident.status in OPEN_STATUSES and follows_up(incident)


def _compose(purpose: Purpose, locale: Locale, cal: Calendar, now: datetime, words: dict[str, Any],
             shop: Shop | None):
    """In the shop's own template for the purpose, if it has one (and `shop` is given), else in Redress's."""
    if shop is None:
        return compose(purpose, locale, cal.tz, now, words)
    overrides = ((shop.policy or {}).get("templates") or {}).get(locale) or {}
    own = {f"{p}.txt": src for p, src in overrides.items() if isinstance(src, str)}
    try:
        return compose(purpose, locale, cal.tz, now, words, own)
    except (TemplateProblem, ValueError) as exc:
        # A template that worked in the preview and fails on this incident: the customer still hears, in ours.
        log.error("shop %s: %s; the default template was used", shop.id, exc)
        return compose(purpose, locale, cal.tz, now, words)


def _headers(shop: Shop, comm: Communication, mail_from: str) -> dict[str, str]:
    """The shop's name on our sending address (the mail server vouches for that one) and its own
    address for replies."""
    name = comm.sender_name or shop_name(shop)
    return {"from": formataddr((name, parseaddr(mail_from)[1] or "no-reply@localhost")),
            "reply_to": reply_to_of(shop, comm)}


def preview(incident: Incident | None, shop: Shop, purpose: Purpose, locale: Locale, source: str | None,
            status_url: str, now: datetime):
    """The message `purpose` as it would read on this incident (or on a sample one) with `source` as the
    shop's template; raises TemplateProblem or ValueError for a template that cannot be used."""
    comm, cal = communication_of(shop), calendar_of(shop)
    own = {f"{purpose}.txt": source} if source is not None else {}
    if incident is None:
        words = {**sample_facts(), "shop_name": shop_name(shop), "sender_name": comm.sender_name}
        return compose(purpose, locale, cal.tz, now, words, own)
    order = incident.order
    facts = OrderFacts.from_json(order.facts) if order.facts else OrderFacts(order_id=order.platform_order_id)
    issued = tuple(c.id for c in incident.compensations if c.state == CompensationState.ISSUED)
    promise = promised_update([*told(incident), Told(purpose, 1, now)], comm, cal)
    words = customer_facts(incident, facts, Due(purpose, 1, issued), promise, status_url, comm)
    return compose(purpose, locale, cal.tz, now, words, own)


def record_crisis_update(session: Session, incident: Incident, crisis: dict[str, Any], text: str, now: datetime,
                         status_url: str, channel: Channel, mail_from: str) -> Message | None:
    """One crisis update to this incident's customer, in their language: the team's words (or, with none,
    Redress's own for the cause) and the next update promised. None when there is no address to write to."""
    if not case_of(incident).reachable:
        return None
    sequence = 1 + max((m.sequence for m in incident.messages if m.purpose == Purpose.CRISIS), default=0)
    return _record(session, incident, Due(Purpose.CRISIS, sequence), now, status_url, channel, mail_from,
                   extra={"crisis": crisis, "crisis_text": text})


def record_team_words(session: Session, incident: Incident, text: str, now: datetime, status_url: str,
                      channel: Channel, mail_from: str, nonce: str | None = None) -> Message | None:
    """The team's own words to this incident's customer, as the next update in their language (Redress's
    template, so a shop's own update template can never leave the words out): it answers any reply waiting
    for an answer and counts as news for the schedule. None when there is no address to write to."""
    if not case_of(incident).reachable:
        return None
    sequence = 1 + max((m.sequence for m in incident.messages if m.purpose == Purpose.UPDATE), default=0)
    msg = _record(session, incident, Due(Purpose.UPDATE, sequence), now, status_url, channel, mail_from,
                  extra={"team_text": text}, shops_template=False)
    if nonce:
        msg.details = {**msg.details, "nonce": nonce}  # the form it came from: sent again, it is not sent twice
    incident.reply_due_at = None
    return msg
