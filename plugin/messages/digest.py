"""The team's daily digest: one e-mail a day, after 08:00 shop time, with what needs a person (compensations
waiting for approval, customers waiting for an answer or saying it is not sorted) and what happened in the
last 24 hours; nothing when there is nothing to say. Alerts that cannot wait go on their own (plugin.messages.team)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from plugin.messages.team import team_addresses
from plugin.messages.terms import calendar_of, shop_name
from plugin.orders.money import fmt
from plugin.storage.models import Compensation, Incident, Message, Shop
from plugin.vocabulary import OPEN_STATUSES, Audience, Channel, CompensationState, MessageState, Purpose

SENT_AFTER = time(8, 0)  # shop time
LISTED = 15  # items per section; the rest are counted


def digest_day(shop: Shop, now: datetime) -> date | None:
    """The shop's day whose digest is due now (from 08:00 its time), or None before then."""
    local = now.astimezone(calendar_of(shop).tz)
    return local.date() if local.time() >= SENT_AFTER else None


def record_digest(session: Session, shop: Shop, now: datetime, desk_url: str) -> Message | None:
    team, day = team_addresses(shop), digest_day(shop, now)
    key = f"shop:{shop.id}:digest:{day}"
    if not team or day is None or session.execute(
            select(Message.id).where(Message.key == key)).first():
        return None
    sections, counts = _sections(session, shop, now)
    if not sections:
        return None  # a quiet day: no e-mail
    name = shop_name(shop)
    body = "\n\n".join([f"Good morning. Here is {name} in Redress for the last 24 hours.", *sections,
                        f"Settings and messages: {desk_url}"]) + "\n"
    msg = Message(shop_id=shop.id, incident_id=None, key=key, audience=Audience.TEAM, purpose=Purpose.TEAM_ALERT,
                  sequence=1, channel=Channel.EMAIL, to_address=", ".join(team), locale="en",
                  subject=f"{name}: {counts['opened']} new incidents, {counts['waiting']} waiting for you"[:300],
                  body_text=body, details={"digest": str(day)}, state=MessageState.QUEUED, created_at=now)
    session.add(msg)
    return msg


def _sections(session: Session, shop: Shop, now: datetime) -> tuple[list[str], Counter[str]]:
    since = now - timedelta(hours=24)
    opened = session.execute(select(Incident.kind, func.count()).where(
        Incident.shop_id == shop.id, Incident.opened_at >= since).group_by(Incident.kind)).all()
    waiting = _waiting(session, shop)
    unanswered = _incidents(session, shop, Incident.reply_due_at.is_not(None))
    not_sorted = _incidents(session, shop, Incident.confirmed.is_(False))
    failed = session.execute(select(func.count()).select_from(Message).where(
        Message.shop_id == shop.id, Message.state == MessageState.FAILED, Message.created_at >= since)).scalar_one()
    counts = Counter(opened=sum(n for _, n in opened), waiting=len(waiting) + len(unanswered) + len(not_sorted))
    sections = []
    if waiting:
        sections.append(_list("Compensations waiting for your approval (redress compensations approve ID):", [
            f"{c.id}: {c.action.replace('_', ' ')} {fmt(c.amount, c.currency) or ''} {c.currency or ''}".rstrip()
            + f" for order {c.incident.order.number}" for c in waiting]))
    if unanswered:
        sections.append(_list("Customers waiting for an answer:", [
            f"order {i.order.number}: promised by {i.reply_due_at:%a %d %b %H:%M} UTC" for i in unanswered
            if i.reply_due_at]))
    if not_sorted:
        sections.append(_list("Customers who say it is not sorted yet:", [
            f"order {i.order.number} ({i.kind.replace('_', ' ')})" for i in not_sorted]))
    if opened:
        sections.append(_list("New incidents:", [f"{n} {k.replace('_', ' ')}" for k, n in sorted(opened)]))
    if failed:
        sections.append(f"{failed} message(s) to customers could not be delivered; see the messages page.")
    return sections, counts


def _waiting(session: Session, shop: Shop) -> list[Compensation]:
    return list(session.execute(
        select(Compensation).join(Incident).where(Incident.shop_id == shop.id,
                                                  Compensation.state == CompensationState.AWAITING_APPROVAL)
        .options(selectinload(Compensation.incident).selectinload(Incident.order))
        .order_by(Compensation.id)).scalars())


def _incidents(session: Session, shop: Shop, condition) -> list[Incident]:
    return list(session.execute(
        select(Incident).where(Incident.shop_id == shop.id, Incident.status.in_(OPEN_STATUSES), condition)
        .options(selectinload(Incident.order)).order_by(Incident.id)).scalars())


def _list(title: str, lines: list[str]) -> str:
    shown = [f"- {line}" for line in lines[:LISTED]]
    if len(lines) > LISTED:
        shown.append(f"- and {len(lines) - LISTED} more")
    return "\n".join([title, *shown])
