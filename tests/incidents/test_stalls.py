"""Stalled orders at fixed `now` values: kind, whose fault, readable evidence, next deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.incidents.detect import assess
from plugin.orders.calendars import Calendar
from plugin.orders.facts import OrderFacts, Shipment, TrackingEvent
from plugin.orders.timing import TimingPolicy, TransitOverride

MADRID = ZoneInfo("Europe/Madrid")
TIMING = TimingPolicy(calendar=Calendar(tz=MADRID))
MON = datetime(2026, 11, 16, 10, 2, tzinfo=MADRID)  # Monday 16 November 2026, 10:02 in Madrid


def order(**kw) -> OrderFacts:
    base = dict(order_id="1", number="#1001", total=Decimal("80.00"), shipping=Decimal("5.00"), currency="EUR",
                financial_status="paid", fulfillment_status="unfulfilled", created_at=MON, paid_at=MON,
                updated_at=MON, country="ES")
    base.update(kw)
    return OrderFacts(**base)


def shipped(at, status="in_transit", events=(), **kw) -> Shipment:
    return Shipment(id="s1", status=status, carrier="SEUR", tracking_number="TRK1", created_at=at, updated_at=at,
                    shipped_at=at, events=list(events), **kw)


def kinds(a):
    return [(f.kind, f.responsibility) for f in a.findings]


def test_paid_six_business_days_ago_and_never_shipped_is_the_shops_fault():
    now = datetime(2026, 11, 24, 12, 0, tzinfo=MADRID)  # the next Tuesday
    a = assess(order(), TIMING, now, "sweep")
    assert kinds(a) == [("fulfillment_late", "shop")]
    facts = [e["fact"] for e in a.findings[0].evidence]
    assert facts[0] == "paid Mon 16 Nov 10:02 (Europe/Madrid)"
    assert facts[-1].startswith("handling time of 2 business day(s) ended Wed 18 Nov 10:02 (Europe/Madrid)")
    assert facts[-1].endswith("→ shop")


def test_before_the_handling_deadline_nothing_opens_and_the_deadline_is_the_next_check():
    a = assess(order(), TIMING, datetime(2026, 11, 18, 10, 1, tzinfo=MADRID), "sweep")
    assert a.findings == []
    assert a.next_check_at == datetime(2026, 11, 18, 10, 2, tzinfo=MADRID)


def test_the_weekend_does_not_count_against_the_shop():
    fri = datetime(2026, 11, 20, 16, 0, tzinfo=MADRID)
    a = assess(order(paid_at=fri, created_at=fri), TIMING, datetime(2026, 11, 23, 18, 0, tzinfo=MADRID), "sweep")
    assert a.findings == [] and a.next_check_at == datetime(2026, 11, 24, 16, 0, tzinfo=MADRID)


def test_label_made_but_never_handed_over_is_pickup_late():
    label = Shipment(id="s1", status="label_printed", carrier="SEUR", created_at=MON + timedelta(hours=2),
                     updated_at=MON + timedelta(hours=2))
    a = assess(order(shipments=[label]), TIMING, datetime(2026, 11, 19, 12, 0, tzinfo=MADRID), "sweep")
    assert kinds(a) == [("pickup_late", "shop")]
    assert "label made Mon 16 Nov 12:02" in a.findings[0].evidence[-1]["fact"]


def test_handed_over_on_time_then_five_days_of_silence_is_the_carriers():
    handed = MON + timedelta(days=1)
    scan = TrackingEvent(id="e1", status="in_transit", happened_at=handed + timedelta(hours=6))
    now = scan.happened_at + timedelta(days=5)
    a = assess(order(shipments=[shipped(handed, events=[scan])]), TIMING, now, "sweep")
    assert kinds(a) == [("transit_stalled", "carrier")]
    assert "no scan for 5.0 days (longest acceptable gap 3 days) → carrier" in a.findings[0].evidence[-1]["fact"]
    assert a.recovered["handover"]  # a fulfillment_late incident, if any, resolves


def test_a_failed_delivery_attempt_is_the_customers():
    handed = MON + timedelta(days=1)
    attempt = TrackingEvent(id="e2", status="attempted_delivery", happened_at=handed + timedelta(days=2))
    s = shipped(handed, status="attempted_delivery", events=[attempt])
    a = assess(order(shipments=[s]), TIMING, attempt.happened_at + timedelta(hours=1), "webhook")
    assert kinds(a) == [("delivery_failed", "customer")]


def test_a_carrier_failure_is_the_carriers_and_a_return_after_no_collection_the_customers():
    handed = MON + timedelta(days=1)
    a = assess(order(shipments=[shipped(handed, status="failure")]), TIMING, handed + timedelta(days=2), "w")
    assert kinds(a) == [("delivery_failed", "carrier")]
    waiting = TrackingEvent(id="e3", status="available_for_pickup", happened_at=handed + timedelta(days=2))
    s = shipped(handed, status="returned_to_sender", events=[waiting])
    a = assess(order(shipments=[s]), TIMING, handed + timedelta(days=12), "w")
    assert kinds(a) == [("returned_to_sender", "customer")]


def test_past_the_platform_estimate_is_delivery_late_for_the_carrier():
    handed = MON + timedelta(days=1)
    s = shipped(handed, events=[TrackingEvent(id="e", status="in_transit", happened_at=handed)],
                estimated_delivery_at=handed + timedelta(days=2))
    now = handed + timedelta(days=2, hours=3)
    a = assess(order(shipments=[s]), TIMING, now, "sweep")
    assert kinds(a) == [("delivery_late", "carrier")]
    assert "estimated delivery" in a.findings[0].evidence[-1]["fact"]


def test_a_late_hand_over_makes_a_late_delivery_the_shops_until_the_carrier_is_later_still():
    handed = datetime(2026, 11, 24, 10, 0, tzinfo=MADRID)  # four business days after the handling deadline
    s = shipped(handed)  # no carrier scans: judged on transit time alone
    promised = datetime(2026, 11, 25, 10, 2, tzinfo=MADRID)  # Wed 18 + 5 business days
    early = assess(order(shipments=[s]), TIMING, promised + timedelta(hours=1), "sweep")
    assert kinds(early) == [("delivery_late", "shop")]
    assert "after the handling time ended" in early.findings[0].evidence[-1]["fact"]
    later = assess(order(shipments=[s]), TIMING, datetime(2026, 12, 7, 18, 0, tzinfo=MADRID), "sweep")
    assert kinds(later) == [("delivery_late", "carrier")]


def test_weeks_without_news_is_lost():
    handed = MON + timedelta(days=1)
    a = assess(order(shipments=[shipped(handed)]), TIMING, handed + timedelta(days=15), "sweep")
    assert kinds(a) == [("lost", "carrier")]


def test_delivered_resolves_the_transit_family_and_schedules_nothing():
    handed = MON + timedelta(days=1)
    s = shipped(handed, status="delivered", delivered_at=handed + timedelta(days=2))
    a = assess(order(shipments=[s]), TIMING, handed + timedelta(days=20), "webhook")
    assert a.findings == [] and a.next_check_at is None
    assert set(a.recovered) >= {"handover", "transit", "delivery_failed"}


def untracked(at, **kw) -> Shipment:
    """Handed over with nothing from the carrier: no tracking number, no carrier status, no scans."""
    return Shipment(id="completed", created_at=at, updated_at=at, shipped_at=at, **kw)


def test_handed_over_without_tracking_data_nothing_after_hand_over_is_judged():
    handed = MON + timedelta(days=1)
    for kw in ({"carrier": "UPS"}, {"stand_in": True}):  # a bare Shopify fulfillment; WooCommerce `completed`
        for days in (7, 14, 60):
            a = assess(order(shipments=[untracked(handed, **kw)]), TIMING, handed + timedelta(days=days), "sweep")
            assert a.findings == [] and a.next_check_at is None  # nothing to judge, nothing to look at again
            assert a.recovered["handover"]  # the shop's part: handed over in time
            [why] = a.withdrawn["transit"]
            assert "no tracking data from the carrier: delivery is not followed" in why["fact"]


def test_an_untracked_stand_in_beside_a_tracked_shipment_is_ignored():
    handed = MON + timedelta(days=1)
    delivered = shipped(handed, status="delivered", delivered_at=handed + timedelta(days=2))
    a = assess(order(shipments=[untracked(handed), delivered]), TIMING, handed + timedelta(days=20), "webhook")
    assert a.findings == [] and a.next_check_at is None and "delivered" in a.recovered["transit"][0]["fact"]
    a = assess(order(shipments=[untracked(handed), shipped(handed)]), TIMING, handed + timedelta(days=15), "sweep")
    assert kinds(a) == [("lost", "carrier")] and "SEUR TRK1" in a.findings[0].evidence[-1]["fact"]


def test_a_long_transit_override_waits_for_the_delivery_date_before_calling_a_parcel_lost():
    t = TimingPolicy(calendar=TIMING.calendar, transit_overrides=(TransitOverride("SEUR", None, 30),))
    handed = MON + timedelta(days=1)
    now = handed + timedelta(days=20)  # silent for longer than 14 days, but due only in 30 business days
    a = assess(order(shipments=[shipped(handed, status=None)]), t, now, "sweep")  # a tracking number, no scans
    assert a.findings == []
    assert a.next_check_at == TIMING.calendar.add_business_days(handed, 30)


def test_digital_unpaid_and_cancelled_orders_never_stall():
    late = datetime(2026, 12, 20, tzinfo=UTC)
    assert assess(order(requires_shipping=False), TIMING, late, "s").findings == []
    assert assess(order(financial_status="pending", paid_at=None), TIMING, late, "s").findings == []
    cancelled = assess(order(cancelled_at=MON, cancel_reason="customer"), TIMING, late, "s")
    assert kinds(cancelled) == [("order_cancelled", "customer")] and "handover" in cancelled.recovered


def test_transit_time_can_be_overridden_per_carrier_and_country():
    t = TimingPolicy(transit_overrides=(TransitOverride("SEUR", None, 3), TransitOverride("SEUR", "PT", 6),
                                        TransitOverride(None, "PT", 8)))
    assert t.transit_days("seur", "ES") == 3
    assert t.transit_days("SEUR", "PT") == 6
    assert t.transit_days("Correos", "PT") == 8
    assert t.transit_days("Correos", "ES") == 5


@settings(max_examples=200, deadline=None)
@given(hours=st.integers(0, 24 * 40))
def test_nothing_opens_before_the_next_check_and_something_is_due_until_delivery(hours):
    """Whatever moment it is, an undelivered paid order is either stalled or has a next deadline."""
    handed = MON + timedelta(days=1)
    facts = order(shipments=[shipped(handed, events=[TrackingEvent(id="e", status="in_transit",
                                                                   happened_at=handed)])])
    now = MON + timedelta(hours=hours)
    a = assess(facts, TIMING, now, "sweep")
    assert a.findings or a.next_check_at is not None
    if a.next_check_at is not None:
        assert a.next_check_at > now


# -- the next check over random timing policies and random shipments -------------------------------------------

CARRIERS = ("SEUR", "UPS", None)
days_60 = st.integers(0, 60)
timings = st.builds(
    TimingPolicy,
    calendar=st.builds(Calendar, tz=st.sampled_from([MADRID, ZoneInfo("America/New_York"), ZoneInfo("UTC")]),
                       days=st.frozensets(st.integers(0, 6), min_size=1)),
    handling_business_days=days_60, pickup_grace_business_days=days_60, transit_business_days=days_60,
    max_scan_gap_days=st.floats(0.1, 365), lost_after_days=st.floats(0.1, 365),
    transit_overrides=st.lists(st.builds(TransitOverride, st.sampled_from(CARRIERS), st.sampled_from(("ES", None)),
                                         days_60), max_size=3).map(tuple),
    use_platform_estimate=st.booleans())
AFTER_HAND_OVER = {"transit_stalled", "delivery_late", "lost", "delivery_failed", "returned_to_sender"}
hours = st.integers(0, 24 * 120).map(lambda h: timedelta(hours=h))


@st.composite
def shipments(draw, n: int):
    status = draw(st.sampled_from([None, "label_printed", "carrier_picked_up", "in_transit", "delayed",
                                   "out_for_delivery", "attempted_delivery", "available_for_pickup", "failure",
                                   "returned_to_sender", "delivered", "cancelled"]))
    at = MON + draw(hours)
    handed = status not in ("label_printed", "cancelled") and draw(st.booleans())
    scans = [TrackingEvent(id=f"e{n}{i}", status="in_transit", happened_at=at + draw(hours))
             for i in range(draw(st.integers(0, 2)))]
    return Shipment(id=f"s{n}", status=status, carrier=draw(st.sampled_from(CARRIERS)),
                    tracking_number=draw(st.sampled_from((None, f"TRK{n}"))), created_at=at, updated_at=at,
                    shipped_at=at if handed or status in (None, "in_transit") else None, events=scans,
                    estimated_delivery_at=draw(st.none() | hours.map(lambda h: at + h)),
                    delivered_at=at + draw(hours) if status == "delivered" else None)


@settings(max_examples=400, deadline=None)
@given(timing=timings, n=st.integers(0, 3), later=hours, data=st.data())
def test_the_next_check_is_always_in_the_future_whatever_the_timing_policy(timing, n, later, data):
    facts = order(shipments=[data.draw(shipments(i)) for i in range(n)])
    now = MON + later
    a = assess(facts, timing, now, "sweep")
    assert a.next_check_at is None or a.next_check_at > now
    handed = [s for s in facts.shipments if s.shipped_at and s.status != "cancelled"]
    if handed and not any(s.tracked for s in handed):
        assert not {f.kind for f in a.findings} & AFTER_HAND_OVER  # no carrier verdict without carrier data
    if any(s.tracked and not s.delivered_at and s.status in (None, "in_transit", "delayed") for s in handed):
        assert a.findings or a.next_check_at is not None  # a parcel on its way is always followed
    if not a.findings and a.next_check_at is not None:
        # Nothing can open before the next check: the sweep would not look.
        just_before = now + (a.next_check_at - now) * data.draw(st.floats(0, 0.999))
        assert assess(facts, timing, just_before, "sweep").findings == []
