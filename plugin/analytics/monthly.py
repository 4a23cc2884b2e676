"""The monthly "what to fix" report for the team: last month's causes ranked by what they cost and how often
they struck, each against the month before, in one plain sentence ("Correos to GA, ES: 31 incidents,
74.00 EUR in compensation; 3.1× the month before"). Sent once, from the 1st at 08:00 shop time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plugin.crises.counts import Cause, cause_of
from plugin.messages.team import team_addresses
from plugin.messages.terms import calendar_of, shop_name
from plugin.orders.money import fmt
from plugin.storage.models import Incident, Message, Order, Shop
from plugin.vocabulary import Audience, CauseType, Channel, CompensationState, MessageState, Purpose

SENT_AFTER = time(8, 0)
LISTED = 10


@dataclass
class _Tally:
    count: int = 0
    before: int = 0
    cost: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


def month_due(shop: Shop, now: datetime) -> date | None:
    """The first day of the month whose report is due now (last month's, from the 1st at 08:00 shop time)."""
    local = now.astimezone(calendar_of(shop).tz)
    if local.time() < SENT_AFTER and local.day == 1:
        return None
    this_month = local.date().replace(day=1)
    return (this_month - timedelta(days=1)).replace(day=1)


def record_monthly(session: Session, shop: Shop, now: datetime) -> Message | None:
    month, team = month_due(shop, now), team_addresses(shop)
    key = f"shop:{shop.id}:monthly:{month:%Y-%m}" if month else ""
    if month is None or not team or session.execute(select(Message.id).where(Message.key == key)).first():
        return None
    tallies = _tallies(session, shop, month)
    if not tallies:
        return None  # nothing went wrong last month: no report
    lines = [sentence(cause, t) for cause, t in ranked(tallies)[:LISTED]]
    body = "\n\n".join([f"What to fix at {shop_name(shop)}: {month:%B %Y}, the causes that cost the most first.",
                        "\n".join(f"- {line}" for line in lines)]) + "\n"
    msg = Message(shop_id=shop.id, incident_id=None, key=key, audience=Audience.TEAM, purpose=Purpose.TEAM_ALERT,
                  sequence=1, channel=Channel.EMAIL, to_address=", ".join(team), locale="en",
                  subject=f"{shop_name(shop)}: what to fix, {month:%B %Y}"[:300], body_text=body,
                  details={"monthly": f"{month:%Y-%m}"}, state=MessageState.QUEUED, created_at=now)
    session.add(msg)
    return msg


def _tallies(session: Session, shop: Shop, month: date) -> dict[Cause, _Tally]:
    start = datetime.combine(month, time(0), calendar_of(shop).tz)
    before = datetime.combine((month - timedelta(days=1)).replace(day=1), time(0), calendar_of(shop).tz)
    end = datetime.combine((month + timedelta(days=32)).replace(day=1), time(0), calendar_of(shop).tz)
    incidents = session.execute(select(Incident).where(
        Incident.shop_id == shop.id, Incident.opened_at >= before, Incident.opened_at < end).options(
        selectinload(Incident.order).selectinload(Order.items), selectinload(Incident.compensations))).scalars()
    tallies: dict[Cause, _Tally] = defaultdict(_Tally)
    for inc in incidents:
        for cause in cause_of(inc) or [_kind_cause(inc)]:
            t = tallies[cause]
            if inc.opened_at < start:
                t.before += 1
                continue
            t.count += 1
            for c in inc.compensations:
                if c.state == CompensationState.ISSUED:
                    t.cost[c.currency or ""] += c.value or c.amount or Decimal(0)
    return {c: t for c, t in tallies.items() if t.count}


def _kind_cause(inc: Incident) -> Cause:
    """An incident no carrier lane, product or gateway explains is counted by its kind and verdict."""
    return Cause(CauseType.PRODUCT, (("kind", str(inc.kind)), ("fault", str(inc.responsibility))))


def ranked(tallies: dict[Cause, _Tally]) -> list[tuple[Cause, _Tally]]:
    return sorted(tallies.items(), key=lambda kv: (-sum(kv[1].cost.values()), -kv[1].count, kv[0].key))


def sentence(cause: Cause, t: _Tally) -> str:
    cost = ", ".join(f"{fmt(v, c)} {c}".strip() for c, v in sorted(t.cost.items()) if v) or "nothing"
    trend = f"{t.count / t.before:.1f}× the month before ({t.before})" if t.before else "new this month"
    return f"{_name(cause)}: {t.count} incident{'s' if t.count != 1 else ''}, {cost} in compensation; {trend}."


def _name(cause: Cause) -> str:
    f = dict(cause.fields)
    if cause.type == CauseType.CARRIER_REGION:
        where = ", ".join(x for x in (f.get("region"), f.get("country")) if x)
        return f"{f['carrier']} to {where}" if where else f["carrier"]
    if cause.type == CauseType.PAYMENT:
        return f"Payments through {f['gateway']}"
    if "sku" in f:
        return f"Product {f['sku']}"
    return f"{f['kind'].replace('_', ' ').capitalize()} ({f['fault']})"
