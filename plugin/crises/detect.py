"""One crisis-detection pass over every shop: a cause clearly above its usual level opens a crisis (one open
per shop and cause), the incidents it explains join it while it is open, and the team gets a brief."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from plugin.crises.brief import record_brief
from plugin.crises.counts import DAY, Cause, ShopCounts, cause_of, count_all
from plugin.crises.signals import LOWEST_MINIMUM, Signal, Thresholds, assess, parse_thresholds
from plugin.storage.models import Crisis, Incident, Message, Order, Shop
from plugin.vocabulary import OPEN_STATUSES, CrisisStatus


@dataclass
class Pass:
    opened: list[Crisis] = field(default_factory=list)
    joined: int = 0
    briefs: list[Message] = field(default_factory=list)  # to send once committed


def detect(session: Session, now: datetime, shop_ids: list[int] | None = None) -> Pass:
    """The caller commits. A crisis opened meanwhile by another pass is left to that one."""
    out = Pass()
    counts = count_all(session, now, shop_ids)
    # Only shops with a cause that could reach any shop's minimum today are read and weighed.
    likely = [i for i, c in counts.items() if any(days[-1] >= LOWEST_MINIMUM for days in c.by_cause.values())]
    shops = {s.id: s for s in session.execute(select(Shop).where(Shop.id.in_(likely), Shop.active.is_(True)))
             .scalars()}
    open_now = {(c.shop_id, c.cause_key): c for c in session.execute(
        select(Crisis).where(Crisis.status != CrisisStatus.RESOLVED)).scalars()}
    for shop_id, shop_counts in counts.items():
        shop = shops.get(shop_id)  # None: inactive, or nothing near a crisis today
        if shop is None:
            continue
        for cause, signal in _alarms(shop_counts, thresholds_of(shop)):
            if (shop_id, cause.key) not in open_now:
                crisis = _open(session, shop, cause, signal, now)
                if crisis is not None:
                    open_now[(shop_id, cause.key)] = crisis
                    out.opened.append(crisis)
    for crisis in open_now.values():
        out.joined += join_incidents(session, crisis, now)
    for crisis in out.opened:
        out.briefs.extend(record_brief(session, shops[crisis.shop_id], crisis, now))
    return out


def thresholds_of(shop: Shop) -> Thresholds:
    return parse_thresholds((shop.policy or {}).get("crises") if isinstance(shop.policy, dict) else None)[0]


def _alarms(counts: ShopCounts, t: Thresholds):
    for cause, days in counts.by_cause.items():
        if days[-1] < t.min_incidents:
            continue  # most causes on most days: not worth a test
        signal = assess(days, counts.total, t)
        if signal.alarm:
            yield cause, signal


def _open(session: Session, shop: Shop, cause: Cause, signal: Signal, now: datetime) -> Crisis | None:
    crisis = Crisis(shop_id=shop.id, cause_type=cause.type, cause=cause.as_json(), cause_key=cause.key[:300],
                    status=CrisisStatus.INVESTIGATING, opened_at=now, observed=signal.observed,
                    expected=signal.expected, method=signal.method, updates=[])
    try:
        with session.begin_nested():
            session.add(crisis)
            session.flush()
    except IntegrityError:  # another pass opened it first
        return None
    return crisis


def join_incidents(session: Session, crisis: Crisis, now: datetime) -> int:
    """Incidents the crisis explains, from the day before it opened on, that belong to no crisis yet."""
    candidates = session.execute(
        select(Incident).where(Incident.shop_id == crisis.shop_id, Incident.crisis_id.is_(None),
                               Incident.opened_at >= crisis.opened_at - DAY, Incident.opened_at <= now,
                               Incident.status.in_(OPEN_STATUSES))
        .options(selectinload(Incident.order).selectinload(Order.items))).scalars()
    joined = 0
    for incident in candidates:
        if any(c.key[:300] == crisis.cause_key for c in cause_of(incident)):
            incident.crisis_id = crisis.id
            joined += 1
    return joined
