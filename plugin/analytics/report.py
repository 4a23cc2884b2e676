"""One shop's analytics for a date range (CONTRACT.md, "Merchant desk, analytics and crises"): what went wrong
and whose fault it was, what it cost, how fast customers heard and were put right, whether they agreed, and
how each carrier lane keeps the shop's transit promise.

Incidents count by the day they opened (shop time is not used for the range: dates are UTC days). Costs are
what was issued (coupons at the value the rules priced them, refunds at their amount), by currency.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.analytics.lanes import carrier_lanes
from plugin.crises.brief import describe
from plugin.orders.facts import iso
from plugin.orders.money import fmt
from plugin.storage.models import Compensation, Crisis, Incident, Message, Order, OrderItem, Shop
from plugin.vocabulary import CUSTOMER_PURPOSES, Audience, CompensationState, IncidentStatus, MessageState

TOP = 20  # the longest breakdowns (carriers, countries, SKUs) keep their biggest entries


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The range as instants: from the start of `start` to the end of `end` (inclusive), UTC."""
    return datetime.combine(start, time(0), UTC), datetime.combine(end + timedelta(days=1), time(0), UTC)


def report(session: Session, shop: Shop, start: date, end: date, now: datetime) -> dict[str, Any]:
    since, until = bounds(start, end)
    in_range = (Incident.shop_id == shop.id, Incident.opened_at >= since, Incident.opened_at < until)
    return {
        "from": start.isoformat(), "to": end.isoformat(),
        "incidents": _incidents(session, in_range),
        "compensation": _compensation(session, in_range),
        "first_message_minutes": _percentiles(_first_message_minutes(session, in_range)),
        "resolution_hours": _percentiles(_resolution_hours(session, in_range)),
        "confirmed_share": _confirmed_share(session, in_range),
        "carrier_lanes": carrier_lanes(session, shop, since, until, min(now, until)),
        "crises": _crises(session, shop, since, until),
    }


def _crises(session: Session, shop: Shop, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The crises opened in the range, with what the team said when it closed them."""
    found = session.execute(
        select(Crisis, func.count(Incident.id)).outerjoin(Incident, Incident.crisis_id == Crisis.id)
        .where(Crisis.shop_id == shop.id, Crisis.opened_at >= since, Crisis.opened_at < until)
        .group_by(Crisis.id).order_by(Crisis.opened_at)).all()
    return [{"id": c.id, "cause": describe(c), "status": c.status, "opened_at": iso(c.opened_at),
             "resolved_at": iso(c.resolved_at) if c.resolved_at else None,
             "incidents": n, "summary": c.summary} for c, n in found]


def _grouped(session: Session, column, in_range, join_order: bool = False) -> dict[str, int]:
    q = select(column, func.count(func.distinct(Incident.id))).select_from(Incident)
    if join_order:
        q = q.join(Order, Order.id == Incident.order_id)
    rows = session.execute(q.where(*in_range, column.is_not(None)).group_by(column)).all()
    ranked = sorted(((str(k), n) for k, n in rows), key=lambda kv: (-kv[1], kv[0]))
    return dict(ranked[:TOP])


def _incidents(session: Session, in_range) -> dict[str, Any]:
    total = session.execute(select(func.count()).select_from(Incident).where(*in_range)).scalar_one()
    by_sku = session.execute(
        select(OrderItem.sku, func.count(func.distinct(Incident.id))).select_from(Incident)
        .join(OrderItem, OrderItem.order_id == Incident.order_id)
        .where(*in_range, OrderItem.sku.is_not(None)).group_by(OrderItem.sku)).all()
    weeks: Counter[str] = Counter()
    for (opened,) in session.execute(select(Incident.opened_at).where(*in_range)):
        weeks[(opened.date() - timedelta(days=opened.weekday())).isoformat()] += 1
    return {
        "total": total, "by_kind": _grouped(session, Incident.kind, in_range),
        "by_responsibility": _grouped(session, Incident.responsibility, in_range),
        "by_carrier": _grouped(session, Order.carrier, in_range, join_order=True),
        "by_country": _grouped(session, Order.country, in_range, join_order=True),
        "by_sku": dict(sorted(((str(k), n) for k, n in by_sku), key=lambda kv: (-kv[1], kv[0]))[:TOP]),
        "by_week": dict(sorted(weeks.items())),  # Mondays
    }


def _compensation(session: Session, in_range) -> dict[str, Any]:
    cost = func.coalesce(Compensation.value, Compensation.amount)
    issued = (*in_range, Compensation.state == CompensationState.ISSUED)
    rows = session.execute(
        select(Compensation.currency, Incident.responsibility, Incident.kind, Order.carrier, func.sum(cost))
        .join(Incident, Incident.id == Compensation.incident_id).join(Order, Order.id == Incident.order_id)
        .where(*issued)
        .group_by(Compensation.currency, Incident.responsibility, Incident.kind, Order.carrier)).all()
    # The lines of this range's orders only: a DISTINCT over every shop's lines would read them all.
    lines = (select(OrderItem.order_id, OrderItem.sku)
             .where(OrderItem.sku.is_not(None), OrderItem.order_id.in_(select(Incident.order_id).where(*in_range)))
             .distinct().subquery())
    by_sku = session.execute(
        select(Compensation.currency, lines.c.sku, func.sum(cost))
        .join(Incident, Incident.id == Compensation.incident_id).join(lines, lines.c.order_id == Incident.order_id)
        .where(*issued).group_by(Compensation.currency, lines.c.sku)).all()
    by_currency: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "total": Decimal(0), "by_responsibility": Counter(), "by_kind": Counter(), "by_carrier": Counter(),
        "by_sku": Counter()})
    for currency, responsibility, kind, carrier, amount in rows:
        entry = by_currency[currency or ""]
        entry["total"] += Decimal(amount or 0)
        entry["by_responsibility"][str(responsibility)] += Decimal(amount or 0)
        entry["by_kind"][str(kind)] += Decimal(amount or 0)
        if carrier:
            entry["by_carrier"][carrier] += Decimal(amount or 0)
    for currency, sku, amount in by_sku:  # an order's cost counts once for each product in it
        by_currency[currency or ""]["by_sku"][str(sku)] += Decimal(amount or 0)
    shown = {c: _money_entry(c, e) for c, e in sorted(by_currency.items())}
    if len(shown) <= 1:
        currency = next(iter(shown), None)
        one = shown.get(currency or "", {"total": "0.00", **{k: {} for k in BREAKDOWNS}})
        return {"currency": currency or None, **one}
    return {"currency": None, "by_currency": shown}


BREAKDOWNS = ("by_responsibility", "by_kind", "by_carrier", "by_sku")


def _money_entry(currency: str, e: dict[str, Any]) -> dict[str, Any]:
    return {"total": fmt(e["total"], currency) or "0.00",
            **{k: {name: fmt(v, currency) for name, v in e[k].most_common(TOP)} for k in BREAKDOWNS}}


def _first_message_minutes(session: Session, in_range) -> list[float]:
    first = (select(Message.incident_id, func.min(Message.sent_at).label("at"))
             .where(Message.audience == Audience.CUSTOMER, Message.purpose.in_(CUSTOMER_PURPOSES),
                    Message.state == MessageState.SENT, Message.sent_at.is_not(None))
             .group_by(Message.incident_id).subquery())
    rows = session.execute(select(Incident.opened_at, first.c.at).join(first, first.c.incident_id == Incident.id)
                           .where(*in_range)).all()
    return [max((at - opened).total_seconds(), 0) / 60 for opened, at in rows]


def _resolution_hours(session: Session, in_range) -> list[float]:
    rows = session.execute(select(Incident.opened_at, Incident.resolved_at).where(
        *in_range, Incident.status == IncidentStatus.RESOLVED, Incident.resolved_at.is_not(None))).all()
    return [max((done - opened).total_seconds(), 0) / 3600 for opened, done in rows if done is not None]


def _confirmed_share(session: Session, in_range) -> float | None:
    """Of the resolved incidents, the share whose customer said "yes, sorted"; None before any resolved."""
    rows = session.execute(select(Incident.confirmed, func.count()).where(
        *in_range, Incident.status == IncidentStatus.RESOLVED).group_by(Incident.confirmed)).all()
    resolved = sum(n for _, n in rows)
    return round(sum(n for c, n in rows if c is True) / resolved, 3) if resolved else None


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None}
    if len(values) == 1:
        return {"p50": round(values[0], 1), "p90": round(values[0], 1)}
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    return {"p50": round(statistics.median(values), 1), "p90": round(deciles[8], 1)}
