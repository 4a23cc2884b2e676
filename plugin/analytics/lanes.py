"""Carrier lanes (carrier × destination country): how many parcels each took in the range, the share that
arrived by the shop's transit promise, and where the time went: processing (paid to label), hand-over
(label to the carrier's first scan) and transit (to delivery), with the late business days split by whose
fault they were: the shop's beyond its handling time, the carrier's beyond its transit time."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.orders.calendars import Calendar, CalendarError
from plugin.orders.facts import parse_iso
from plugin.orders.timing import TimingPolicy
from plugin.storage.models import Order, Shop

LANES = 50  # the busiest lanes


@dataclass
class _Lane:
    shipments: int = 0
    judged: int = 0  # delivered, or past their promise without delivery
    on_time: int = 0
    processing: list[float] = field(default_factory=list)
    handover: list[float] = field(default_factory=list)
    transit: list[float] = field(default_factory=list)
    late_shop: int = 0
    late_carrier: int = 0


def carrier_lanes(session: Session, shop: Shop, since: datetime, until: datetime,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    timing = _timing(shop)
    now = now or until
    lanes: dict[tuple[str, str], _Lane] = defaultdict(_Lane)
    rows = session.execute(select(Order.carrier, Order.country, Order.paid_at, Order.shipped_at, Order.delivered_at,
                                  Order.facts).where(Order.shop_id == shop.id, Order.carrier.is_not(None),
                                                     Order.shipped_at >= since, Order.shipped_at < until))
    for carrier, country, paid, shipped, delivered, facts in rows:
        _add(lanes[(carrier, country or "")], timing, carrier, country, paid, shipped, delivered, facts, now)
    ranked = sorted(lanes.items(), key=lambda kv: (-kv[1].shipments, kv[0]))[:LANES]
    return [_json(carrier, country, lane) for (carrier, country), lane in ranked]


def _timing(shop: Shop) -> TimingPolicy:
    timing = (shop.policy or {}).get("timing") if isinstance(shop.policy, dict) else None
    try:
        return TimingPolicy.build(shop.timezone, timing if isinstance(timing, dict) else None)
    except CalendarError:
        return TimingPolicy()


def _add(lane: _Lane, timing: TimingPolicy, carrier: str, country: str | None, paid: datetime | None,
         shipped: datetime, delivered: datetime | None, facts: dict[str, Any] | None, now: datetime) -> None:
    cal: Calendar = timing.calendar
    lane.shipments += 1
    label = _label_at(facts) or shipped
    label = min(label, shipped)
    if paid is not None:
        lane.processing.append(_hours(paid, label))
        handling_due = cal.add_business_days(paid, timing.handling_business_days)
        lane.late_shop += cal.business_days_between(handling_due, shipped) if shipped > handling_due else 0
    lane.handover.append(_hours(label, shipped))
    due = cal.add_business_days(shipped, timing.transit_days(carrier, country))
    if delivered is not None:
        lane.transit.append(_hours(shipped, delivered))
    end = delivered or (now if now > due else None)
    if end is None:
        return  # on its way, not yet due: neither on time nor late
    lane.judged += 1
    if end <= due:
        lane.on_time += 1
    else:
        lane.late_carrier += cal.business_days_between(due, end)


def _label_at(facts: dict[str, Any] | None) -> datetime | None:
    """When the first label was made: the earliest shipment the platform reported."""
    made = [s.get("created_at") for s in (facts or {}).get("shipments") or [] if isinstance(s, dict)]
    times = [parse_iso(m) for m in made if isinstance(m, str)]
    return min(times) if times else None


def _hours(a: datetime, b: datetime) -> float:
    return max((b - a).total_seconds(), 0) / 3600


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _json(carrier: str, country: str, lane: _Lane) -> dict[str, Any]:
    return {"carrier": carrier, "country": country or None, "shipments": lane.shipments,
            "on_time_share": round(lane.on_time / lane.judged, 3) if lane.judged else None,
            "processing_hours_p50": _median(lane.processing), "handover_hours_p50": _median(lane.handover),
            "transit_hours_p50": _median(lane.transit),
            "late_business_days": {"shop": lane.late_shop, "carrier": lane.late_carrier}}
