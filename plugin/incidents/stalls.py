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

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from plugin.incidents.findings import Finding
from plugin.orders.facts import LABEL_ONLY, OrderFacts, Shipment, iso
from plugin.orders.timing import TimingPolicy

PAID = {"paid", "partially_paid", "authorized", "partially_refunded"}
CLOSED_FOR_CARRIER = {"attempted_delivery", "failure", "returned_to_sender", "available_for_pickup"}
ACTIVE_SHIPMENT = lambda s: s.status not in ("cancelled", "error")  # noqa: E731


@dataclass
class StallAssessment:
    findings: list[Finding] = field(default_factory=list)
    recovered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # family -> evidence
    # family -> why it cannot be judged at all: an open incident of it had no grounds and is dismissed
    withdrawn: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    next_check_at: datetime | None = None

    def due(self, when: datetime | None) -> None:
        if when is not None and (self.next_check_at is None or when < self.next_check_at):
            self.next_check_at = when


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 24 else f"{hours:.0f} hours"


RECHECK_OPEN = timedelta(days=1)


def assess_stalls(facts: OrderFacts, timing: TimingPolicy, now: datetime, source: str) -> StallAssessment:
    out = _assess_stalls(facts, timing, now, source)
    if out.findings:
        # A stall keeps growing: look again daily so its delay, verdict and evidence stay current.
        out.due(now + RECHECK_OPEN)
    return out


def _assess_stalls(facts: OrderFacts, timing: TimingPolicy, now: datetime, source: str) -> StallAssessment:
    out = StallAssessment()
    cal = timing.calendar

    def ev(at: datetime | None, fact: str) -> dict[str, Any]:
        return {"at": iso(at or now), "source": source, "fact": fact}

    if facts.cancelled_at or facts.financial_status == "refunded" or not facts.requires_shipping:
        why = ("the order was cancelled" if facts.cancelled_at else
               "the order was refunded" if facts.financial_status == "refunded" else "nothing to ship")
        for family in ("handover", "transit", "delivery_failed", "returned_to_sender"):
            out.recovered[family] = [ev(facts.cancelled_at or facts.updated_at, f"no longer followed: {why}")]
        return out
    if facts.financial_status not in PAID:
        return out  # not paid yet: the shop's clock has not started

    paid_at = facts.paid_at or facts.created_at
    if paid_at is None:
        return out
    shipments = [s for s in facts.shipments if ACTIVE_SHIPMENT(s)]
    handed = [s for s in shipments if s.shipped_at]
    handling_due = cal.add_business_days(paid_at, timing.handling_business_days)
    paid_fact = ev(paid_at, f"paid {cal.describe(paid_at)}")

    # -- before hand-over: the shop's --------------------------------------------------------------
    if not handed:
        labels = [s for s in shipments if s.created_at and (s.status is None or s.status in LABEL_ONLY)]
        if labels:
            label_at = min(s.created_at for s in labels if s.created_at)
            due = max(handling_due, cal.add_business_days(label_at, timing.pickup_grace_business_days))
            kind = "pickup_late"
            rule = (f"label made {cal.describe(label_at)}; a label must reach the carrier within "
                    f"{timing.pickup_grace_business_days} business day(s) and the handling time of "
                    f"{timing.handling_business_days} business day(s): due {cal.describe(due)}")
            facts_list = [paid_fact, ev(label_at, f"label made {cal.describe(label_at)}")]
        else:
            due = handling_due
            kind = "fulfillment_late"
            rule = (f"handling time of {timing.handling_business_days} business day(s) "
                    f"ended {cal.describe(due)}")
            facts_list = [paid_fact]
        if now >= due:
            facts_list.append(ev(due, f"{rule}; not handed to a carrier by {cal.describe(now)} → shop"))
            out.findings.append(Finding(kind, "shop", facts_list, since=due))
        else:
            out.due(due)
        return out

    first_handover = min(s.shipped_at for s in handed if s.shipped_at)
    out.recovered["handover"] = [ev(first_handover, f"handed to the carrier {cal.describe(first_handover)}")]

    # -- after hand-over: per undelivered shipment the carrier lets us follow ----------------------------
    followed = [s for s in handed if s.tracked]
    if not followed:
        # Most shops without a tracking plugin: a late or lost verdict would blame the carrier on no evidence.
        out.withdrawn["transit"] = [ev(first_handover, "no tracking data from the carrier: delivery is not "
                                       "followed, so no delay or loss is judged after hand-over")]
        return out
    pending = [s for s in followed if not s.delivered_at]
    if not pending:
        last = max(s.delivered_at for s in followed if s.delivered_at)
        for family in ("transit", "delivery_failed"):
            out.recovered[family] = [ev(last, f"delivered {cal.describe(last)}")]
        return out

    transit: list[Finding] = []
    for s in pending:
        transit.extend(_shipment_findings(s, facts, timing, now, handling_due, paid_fact, ev, out))
    precedence = {"lost": 0, "delivery_late": 1, "transit_stalled": 2}
    family = sorted((f for f in transit if f.kind in precedence), key=lambda f: precedence[f.kind])
    if family:
        out.findings.append(family[0])
    else:
        out.recovered["transit"] = [ev(now, "the parcel is moving within its deadlines")]
    out.findings.extend(f for f in transit if f.kind not in precedence)
    if not any(f.kind == "delivery_failed" for f in out.findings):
        out.recovered["delivery_failed"] = [ev(now, "no failed delivery outstanding")]
    return out


def _shipment_findings(s: Shipment, facts: OrderFacts, timing: TimingPolicy, now: datetime,
                       handling_due: datetime, paid_fact, ev, out: StallAssessment) -> list[Finding]:
    cal = timing.calendar
    shipped = s.shipped_at
    assert shipped is not None
    carrier = s.carrier or "the carrier"
    ref = f"{carrier} {s.tracking_number}" if s.tracking_number else carrier
    handed_fact = ev(shipped, f"handed to {ref} {cal.describe(shipped)}")
    scans = [e.happened_at for e in s.events if e.happened_at]
    has_carrier_news = bool(scans) or s.status is not None
    last_news = max([shipped, *scans, *([s.updated_at] if s.status and s.updated_at else [])])
    found: list[Finding] = []

    if s.status == "attempted_delivery":
        found.append(Finding("delivery_failed", "customer", [handed_fact, ev(
            last_news, f"{ref} reports a failed delivery attempt {cal.describe(last_news)}: "
            "the customer was not reached → customer")], since=last_news))
        return found
    if s.status == "failure":
        found.append(Finding("delivery_failed", "carrier", [handed_fact, ev(
            last_news, f"{ref} reports a delivery failure {cal.describe(last_news)} after hand-over → carrier")],
            since=last_news))
        return found
    if s.status == "returned_to_sender":
        not_collected = any(e.status in ("attempted_delivery", "available_for_pickup") for e in s.events)
        who = "customer" if not_collected else "carrier"
        why = "after the customer did not receive or collect it" if not_collected else "with no failed attempt"
        found.append(Finding("returned_to_sender", who, [handed_fact, ev(
            last_news, f"{ref} is returning the parcel to the shop {why} → {who}")], since=last_news))
        return found
    if s.status == "available_for_pickup":
        return found  # waiting for the customer to collect it: nobody is late yet

    transit_days = timing.transit_days(s.carrier, facts.country)
    estimate = s.estimated_delivery_at if timing.use_platform_estimate else None
    expected = estimate or cal.add_business_days(shipped, transit_days)
    promised = cal.add_business_days(handling_due, transit_days)
    late_from = min(expected, promised)
    basis = (f"{ref}'s estimated delivery {cal.describe(expected)}" if estimate else
             f"expected transit of {transit_days} business day(s): due {cal.describe(expected)}")

    lost_at = last_news + timedelta(days=timing.lost_after_days)
    if now >= lost_at and now >= late_from:
        found.append(Finding("lost", "carrier", [handed_fact, ev(
            last_news, f"last news from {ref} {cal.describe(last_news)}; nothing for "
            f"{_days(now - last_news)} (lost after {timing.lost_after_days:g} days) → carrier")],
            since=min(late_from, lost_at)))
        return found
    out.due(max(lost_at, late_from))  # lost takes both the silence and a passed delivery date

    if now >= late_from:
        handover_delay = max(shipped - handling_due, timedelta(0))
        transit_overrun = max(now - expected, timedelta(0))
        shop_fault = handover_delay > transit_overrun
        who = "shop" if shop_fault else "carrier"
        why = (f"handed over {_days(handover_delay)} after the handling time ended {cal.describe(handling_due)}, "
               f"more than the carrier's {_days(transit_overrun)} overrun → shop" if shop_fault else
               f"not delivered {_days(now - late_from)} after {basis} → carrier")
        evidence = [paid_fact, handed_fact, ev(late_from, why)]
        found.append(Finding("delivery_late", who, evidence, since=late_from))
        if shop_fault:
            out.due(expected + handover_delay + timedelta(seconds=1))  # when the carrier's overrun is longer
    else:
        out.due(late_from)

    if has_carrier_news:
        gap_due = last_news + timedelta(days=timing.max_scan_gap_days)
        if now >= gap_due:
            found.append(Finding("transit_stalled", "carrier", [handed_fact, ev(
                last_news, f"last scan by {ref} {cal.describe(last_news)}; no scan for {_days(now - last_news)} "
                f"(longest acceptable gap {timing.max_scan_gap_days:g} days) → carrier")], since=gap_due))
        else:
            out.due(gap_due)
    return found
