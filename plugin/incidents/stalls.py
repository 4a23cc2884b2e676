"""Stalled orders: deadlines from the shop's timing policy, and whose fault each stall is.

Before hand-over the parcel is the shop's: no label within the handling time is `fulfillment_late`, a
label that never reaches the carrier is `pickup_late`. After hand-over it is the carrier's (`transit_stalled`,
`delivery_late`, `lost`, a carrier `failure`), except what the customer causes: a failed delivery attempt,
or a parcel sent back after it was not collected. A delivery is late for the shop instead when the shop's
own late hand-over explains the delay. Only a shipment the carrier lets us follow (a tracking number, a
carrier status or a scan) is judged after hand-over: without one there is no evidence against the carrier.

Pure domain code: facts, timing policy and `now` in; findings, recoveries and the next deadline out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from plugin.incidents.findings import Assessment, Evidence, Finding, Witness
from plugin.orders.calendars import Calendar
from plugin.orders.facts import LABEL_ONLY, OrderFacts, Shipment
from plugin.orders.timing import TimingPolicy
from plugin.vocabulary import PAYMENT_TAKEN, Family, FinancialStatus, Kind, Responsibility

K, R = Kind, Responsibility
RECHECK_OPEN = timedelta(days=1)
# The transit family's kinds, strongest first: an order shows the strongest one its parcels call for.
TRANSIT_PRECEDENCE = (K.LOST, K.DELIVERY_LATE, K.TRANSIT_STALLED)


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 24 else f"{hours:.0f} hours"


def _active(s: Shipment) -> bool:
    return s.status not in ("cancelled", "error")


@dataclass(frozen=True)
class _Order:
    """One paid order being judged: its facts, the shop's timing, and when the shop's handling time ends."""

    facts: OrderFacts
    timing: TimingPolicy
    witness: Witness
    handling_due: datetime
    paid: Evidence

    @property
    def cal(self) -> Calendar:
        return self.timing.calendar

    @property
    def now(self) -> datetime:
        return self.witness.now


def assess_stalls(facts: OrderFacts, timing: TimingPolicy, witness: Witness) -> Assessment:
    out = Assessment()
    why_not = _not_followed(facts)
    if why_not is not None:
        out.recover((Family.HANDOVER, Family.TRANSIT, Family.DELIVERY_FAILED, Family.RETURNED_TO_SENDER),
                    witness(facts.cancelled_at or facts.updated_at, f"no longer followed: {why_not}"))
        return out
    paid_at = facts.paid_at or facts.created_at
    if facts.financial_status not in PAYMENT_TAKEN or paid_at is None:
        return out  # not paid yet: the shop's clock has not started
    cal = timing.calendar
    order = _Order(facts, timing, witness, cal.add_business_days(paid_at, timing.handling_business_days),
                   witness(paid_at, f"paid {cal.describe(paid_at)}"))
    shipments = [s for s in facts.shipments if _active(s)]
    handed = [s for s in shipments if s.shipped_at]
    if handed:
        _after_handover(order, handed, out)
    else:
        _before_handover(order, shipments, out)
    if out.findings:
        # A stall keeps growing: look again daily so its delay, verdict and evidence stay current.
        out.due(witness.now + RECHECK_OPEN)
    return out


def _not_followed(facts: OrderFacts) -> str | None:
    if facts.cancelled_at:
        return "the order was cancelled"
    if facts.financial_status == FinancialStatus.REFUNDED:
        return "the order was refunded"
    return None if facts.requires_shipping else "nothing to ship"


# -- before hand-over: the shop's -----------------------------------------------------------------

def _before_handover(order: _Order, shipments: list[Shipment], out: Assessment) -> None:
    cal, timing, ev = order.cal, order.timing, order.witness
    labels = [s.created_at for s in shipments if s.created_at and (s.status is None or s.status in LABEL_ONLY)]
    evidence = [order.paid]
    if labels:
        label_at = min(labels)
        due = max(order.handling_due, cal.add_business_days(label_at, timing.pickup_grace_business_days))
        kind = K.PICKUP_LATE
        rule = (f"label made {cal.describe(label_at)}; a label must reach the carrier within "
                f"{timing.pickup_grace_business_days} business day(s) and the handling time of "
                f"{timing.handling_business_days} business day(s): due {cal.describe(due)}")
        evidence.append(ev(label_at, f"label made {cal.describe(label_at)}"))
    else:
        due = order.handling_due
        kind = K.FULFILLMENT_LATE
        rule = f"handling time of {timing.handling_business_days} business day(s) ended {cal.describe(due)}"
    if order.now < due:
        out.due(due)
        return
    evidence.append(ev(due, f"{rule}; not handed to a carrier by {cal.describe(order.now)} → shop"))
    out.findings.append(Finding(kind, R.SHOP, evidence, since=due))


# -- after hand-over: per undelivered shipment the carrier lets us follow --------------------------------

def _after_handover(order: _Order, handed: list[Shipment], out: Assessment) -> None:
    cal, ev = order.cal, order.witness
    first = min(s.shipped_at for s in handed if s.shipped_at)
    out.recovered[Family.HANDOVER] = [ev(first, f"handed to the carrier {cal.describe(first)}")]
    followed = [s for s in handed if s.tracked]
    if not followed:
        # Most shops without a tracking plugin: a late or lost verdict would blame the carrier on no evidence.
        out.withdrawn[Family.TRANSIT] = [ev(first, "no tracking data from the carrier: delivery is not "
                                            "followed, so no delay or loss is judged after hand-over")]
        return
    pending = [s for s in followed if not s.delivered_at]
    if not pending:
        last = max(s.delivered_at for s in followed if s.delivered_at)
        out.recover((Family.TRANSIT, Family.DELIVERY_FAILED), ev(last, f"delivered {cal.describe(last)}"))
        return
    found = [f for s in pending for f in _shipment_findings(order, s, out)]
    transit = sorted((f for f in found if f.kind in TRANSIT_PRECEDENCE), key=lambda f: TRANSIT_PRECEDENCE.index(f.kind))
    if transit:
        out.findings.append(transit[0])
    else:
        out.recovered[Family.TRANSIT] = [ev(order.now, "the parcel is moving within its deadlines")]
    out.findings.extend(f for f in found if f.kind not in TRANSIT_PRECEDENCE)
    if not any(f.kind == K.DELIVERY_FAILED for f in out.findings):
        out.recovered[Family.DELIVERY_FAILED] = [ev(order.now, "no failed delivery outstanding")]


@dataclass(frozen=True)
class _Parcel:
    """One handed-over shipment and what its carrier has said of it."""

    shipment: Shipment
    ref: str  # the carrier and tracking number, as the evidence names them
    handed: Evidence
    last_news: datetime
    has_news: bool

    @classmethod
    def of(cls, order: _Order, s: Shipment) -> _Parcel:
        assert s.shipped_at is not None
        carrier = s.carrier or "the carrier"
        ref = f"{carrier} {s.tracking_number}" if s.tracking_number else carrier
        scans = [e.happened_at for e in s.events if e.happened_at]
        last_news = max([s.shipped_at, *scans, *([s.updated_at] if s.status and s.updated_at else [])])
        return cls(s, ref, order.witness(s.shipped_at, f"handed to {ref} {order.cal.describe(s.shipped_at)}"),
                   last_news, bool(scans) or s.status is not None)


def _shipment_findings(order: _Order, s: Shipment, out: Assessment) -> list[Finding]:
    parcel = _Parcel.of(order, s)
    if s.status in ("attempted_delivery", "failure", "returned_to_sender", "available_for_pickup"):
        outcome = _carrier_outcome(order, parcel)
        return [outcome] if outcome else []  # waiting for the customer to collect it: nobody is late yet
    lost = _lost_or_late(order, parcel, out)
    if lost and lost[0].kind == K.LOST:
        return lost
    return lost + _silence(order, parcel, out)


def _carrier_outcome(order: _Order, p: _Parcel) -> Finding | None:
    """What the carrier reported as the end of the road: a failed attempt, a failure, a return."""
    s, at = p.shipment, p.last_news
    when = order.cal.describe(at)
    if s.status == "attempted_delivery":
        return Finding(K.DELIVERY_FAILED, R.CUSTOMER, [p.handed, order.witness(
            at, f"{p.ref} reports a failed delivery attempt {when}: the customer was not reached → customer")],
            since=at)
    if s.status == "failure":
        return Finding(K.DELIVERY_FAILED, R.CARRIER, [p.handed, order.witness(
            at, f"{p.ref} reports a delivery failure {when} after hand-over → carrier")], since=at)
    if s.status == "returned_to_sender":
        not_collected = any(e.status in ("attempted_delivery", "available_for_pickup") for e in s.events)
        who = R.CUSTOMER if not_collected else R.CARRIER
        why = "after the customer did not receive or collect it" if not_collected else "with no failed attempt"
        return Finding(K.RETURNED_TO_SENDER, who, [p.handed, order.witness(
            at, f"{p.ref} is returning the parcel to the shop {why} → {who}")], since=at)
    return None


def _lost_or_late(order: _Order, p: _Parcel, out: Assessment) -> list[Finding]:
    """Past its delivery date: lost when the carrier has also been silent too long, else late, and whose
    fault the delay is (the shop's when its late hand-over explains more of it than the carrier's transit)."""
    cal, timing, now, s = order.cal, order.timing, order.now, p.shipment
    shipped = s.shipped_at
    assert shipped is not None
    transit_days = timing.transit_days(s.carrier, order.facts.country)
    estimate = s.estimated_delivery_at if timing.use_platform_estimate else None
    expected = estimate or cal.add_business_days(shipped, transit_days)
    late_from = min(expected, cal.add_business_days(order.handling_due, transit_days))
    lost_at = p.last_news + timedelta(days=timing.lost_after_days)
    if now >= lost_at and now >= late_from:
        return [Finding(K.LOST, R.CARRIER, [p.handed, order.witness(
            p.last_news, f"last news from {p.ref} {cal.describe(p.last_news)}; nothing for "
            f"{_days(now - p.last_news)} (lost after {timing.lost_after_days:g} days) → carrier")],
            since=min(late_from, lost_at))]
    out.due(max(lost_at, late_from))  # lost takes both the silence and a passed delivery date
    if now < late_from:
        out.due(late_from)
        return []
    handover_delay = max(shipped - order.handling_due, timedelta(0))
    transit_overrun = max(now - expected, timedelta(0))
    shop_fault = handover_delay > transit_overrun
    if shop_fault:
        out.due(expected + handover_delay + timedelta(seconds=1))  # when the carrier's overrun is longer
        why = (f"handed over {_days(handover_delay)} after the handling time ended "
               f"{cal.describe(order.handling_due)}, more than the carrier's {_days(transit_overrun)} overrun → shop")
    else:
        basis = (f"{p.ref}'s estimated delivery {cal.describe(expected)}" if estimate else
                 f"expected transit of {transit_days} business day(s): due {cal.describe(expected)}")
        why = f"not delivered {_days(now - late_from)} after {basis} → carrier"
    return [Finding(K.DELIVERY_LATE, R.SHOP if shop_fault else R.CARRIER,
                    [order.paid, p.handed, order.witness(late_from, why)], since=late_from)]


def _silence(order: _Order, p: _Parcel, out: Assessment) -> list[Finding]:
    """A parcel the carrier has scanned before and has gone quiet on for longer than the shop accepts."""
    if not p.has_news:
        return []
    gap_days = order.timing.max_scan_gap_days
    gap_due = p.last_news + timedelta(days=gap_days)
    if order.now < gap_due:
        out.due(gap_due)
        return []
    return [Finding(K.TRANSIT_STALLED, R.CARRIER, [p.handed, order.witness(
        p.last_news, f"last scan by {p.ref} {order.cal.describe(p.last_news)}; no scan for "
        f"{_days(order.now - p.last_news)} (longest acceptable gap {gap_days:g} days) → carrier")], since=gap_due)]
