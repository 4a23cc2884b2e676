"""One shop's analytics for a range: what went wrong by kind, fault, carrier, country and product; what it
cost; how fast customers heard and were put right; whether they agreed; how each carrier lane keeps the
shop's transit promise."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.analytics.report import _percentiles, report
from plugin.extensions import db
from plugin.storage.models import Compensation, Incident, Message, Order, OrderItem, Shop
from tests.support.platforms import connect_shopify

MON = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def _order(s, shop_id, n, carrier="Correos", country="ES", sku="MUG", paid=MON - timedelta(days=1),
           shipped=None, delivered=None, total="50"):
    o = Order(shop_id=shop_id, platform_order_id=f"{shop_id}-{n}", number=f"#{n}", total=Decimal(total),
              currency="EUR", customer_email=f"c{n}@example.es", carrier=carrier, country=country, paid_at=paid,
              shipped_at=shipped, delivered_at=delivered, facts={},
              items=[OrderItem(shop_id=shop_id, sku=sku, title=sku, quantity=1)])
    s.add(o)
    return o


def _incident(s, order, kind, fault, opened, resolved=None, confirmed=None, **_):
    inc = Incident(shop_id=order.shop_id, order=order, kind=kind, responsibility=fault,
                   status="resolved" if resolved else "open", evidence=[], opened_at=opened, resolved_at=resolved,
                   confirmed=confirmed)
    s.add(inc)
    return inc


def shop_with_a_month(app) -> int:
    shop_id, _ = connect_shopify(app)
    with db(app).session() as s:
        for n in range(6):  # six late shipments, the shop's fault, in the first week
            o = _order(s, shop_id, n, sku="MUG")
            inc = _incident(s, o, "fulfillment_late", "shop", MON + timedelta(hours=n),
                            resolved=MON + timedelta(hours=n + 30), confirmed=n % 2 == 0)
            inc.compensations.append(Compensation(action="coupon_percent", percent=Decimal(10), value=Decimal("5"),
                                                  currency="EUR", state="issued", idempotency_key=f"k{n}"))
            inc.messages.append(Message(shop_id=shop_id, key=f"m{n}", audience="customer", purpose="opened",
                                        sequence=1, channel="email", state="sent", body_text="",
                                        created_at=inc.opened_at, sent_at=inc.opened_at + timedelta(minutes=n + 1)))
        for n in range(6, 9):  # three parcels UPS let stall in Portugal, the next week
            o = _order(s, shop_id, n, carrier="UPS", country="PT", sku="LAMP")
            _incident(s, o, "transit_stalled", "carrier", MON + timedelta(days=8, hours=n))
        old = _order(s, shop_id, 99)  # before the range
        _incident(s, old, "lost", "carrier", MON - timedelta(days=40))
        s.commit()
    return shop_id


def test_a_months_report_says_what_went_wrong_what_it_cost_and_how_fast(app):
    shop_id = shop_with_a_month(app)
    with db(app).session() as s:
        r = report(s, s.get(Shop, shop_id), date(2026, 11, 1), date(2026, 11, 30), datetime(2026, 12, 1, tzinfo=UTC))
    assert (r["from"], r["to"]) == ("2026-11-01", "2026-11-30")
    i = r["incidents"]
    assert i["total"] == 9
    assert i["by_kind"] == {"fulfillment_late": 6, "transit_stalled": 3}
    assert i["by_responsibility"] == {"shop": 6, "carrier": 3}
    assert i["by_carrier"] == {"Correos": 6, "UPS": 3} and i["by_country"] == {"ES": 6, "PT": 3}
    assert i["by_sku"] == {"MUG": 6, "LAMP": 3}
    assert i["by_week"] == {"2026-11-02": 6, "2026-11-09": 3}
    assert r["compensation"] == {"currency": "EUR", "total": "30.00", "by_responsibility": {"shop": "30.00"},
                                 "by_kind": {"fulfillment_late": "30.00"}, "by_carrier": {"Correos": "30.00"},
                                 "by_sku": {"MUG": "30.00"}}
    assert r["first_message_minutes"] == {"p50": 3.5, "p90": 5.5}
    assert r["resolution_hours"] == {"p50": 30.0, "p90": 30.0}
    assert r["confirmed_share"] == 0.5


def test_another_range_or_another_shop_sees_nothing_of_it(app):
    shop_id = shop_with_a_month(app)
    other, _ = connect_shopify(app, domain="otra.myshopify.com")
    with db(app).session() as s:
        empty = report(s, s.get(Shop, other), date(2026, 11, 1), date(2026, 11, 30), datetime.now(UTC))
        december = report(s, s.get(Shop, shop_id), date(2026, 12, 1), date(2026, 12, 31), datetime.now(UTC))
    for r in (empty, december):
        assert r["incidents"]["total"] == 0 and r["incidents"]["by_kind"] == {}
        assert r["compensation"]["total"] == "0.00" and r["first_message_minutes"] == {"p50": None, "p90": None}
        assert r["confirmed_share"] is None and r["carrier_lanes"] == []


def test_carrier_lanes_keep_score_of_the_transit_promise_and_whose_the_late_days_were(app):
    shop_id, _ = connect_shopify(app)  # default timing: 2 handling days, 5 transit days, Monday to Friday
    with db(app).session() as s:
        paid = MON
        _order(s, shop_id, 1, paid=paid, shipped=MON + timedelta(days=1), delivered=MON + timedelta(days=3))
        _order(s, shop_id, 2, paid=paid, shipped=MON + timedelta(days=1), delivered=MON + timedelta(days=14))
        # Left us late (Friday, not Wednesday), then on time in transit.
        _order(s, shop_id, 3, paid=paid, shipped=MON + timedelta(days=4), delivered=MON + timedelta(days=7))
        _order(s, shop_id, 4, paid=paid, shipped=MON + timedelta(days=1))  # never delivered: late by now
        _order(s, shop_id, 5, carrier="UPS", country="PT", paid=paid, shipped=MON + timedelta(days=2),
               delivered=MON + timedelta(days=4))
        s.commit()
        r = report(s, s.get(Shop, shop_id), date(2026, 11, 1), date(2026, 11, 30), datetime(2026, 11, 30, tzinfo=UTC))
    correos, ups = r["carrier_lanes"]
    assert (correos["carrier"], correos["country"], correos["shipments"]) == ("Correos", "ES", 4)
    assert correos["on_time_share"] == 0.5  # 1 and 3 on time; 2 late; 4 never came
    assert correos["late_business_days"]["shop"] == 2 and correos["late_business_days"]["carrier"] > 0
    assert correos["transit_hours_p50"] == 72.0
    assert (ups["carrier"], ups["on_time_share"], ups["shipments"]) == ("UPS", 1.0, 1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 10_000), min_size=1, max_size=200))
def test_the_median_and_the_90th_percentile_lie_within_the_values_in_order(values):
    p = _percentiles(values)
    assert min(values) - 0.1 <= p["p50"] <= p["p90"] <= max(values) + 0.1


def test_the_command_line_prints_the_same_report(app):
    import json

    from tests.support.cli import redress

    shop_id = shop_with_a_month(app)
    out = json.loads(redress(app, "analytics", "--shop", str(shop_id), "--from", "2026-11-01", "--to",
                             "2026-11-30").stdout)
    assert out["incidents"]["total"] == 9 and out["compensation"]["total"] == "30.00"
    bad = redress(app, "analytics", "--shop", str(shop_id), "--from", "2026-12-01", "--to", "2026-11-01", check=False)
    assert bad.exit_code != 0 and "--from must not be after --to" in bad.stderr
    assert "no shop 999" in redress(app, "analytics", "--shop", "999", check=False).stderr


def test_a_closed_crisis_stays_in_its_months_analytics_with_its_summary(app):
    from plugin.storage.models import Crisis
    from plugin.vocabulary import CauseType

    shop_id = shop_with_a_month(app)
    other, _ = connect_shopify(app, domain="otra.myshopify.com")
    with db(app).session() as s:
        crisis = Crisis(shop_id=shop_id, cause_type=CauseType.CARRIER_REGION, status="resolved",
                        cause={"type": "carrier_region", "carrier": "UPS", "country": "PT", "region": "13"},
                        cause_key="carrier:UPS:PT:13", opened_at=MON + timedelta(days=8), observed=3,
                        resolved_at=MON + timedelta(days=10), summary="UPS lost a lorry near Porto; all re-sent.")
        crisis.incidents = list(s.query(Incident).filter(Incident.kind == "transit_stalled"))
        s.add(crisis)
        s.commit()
        november = report(s, s.get(Shop, shop_id), date(2026, 11, 1), date(2026, 11, 30), datetime.now(UTC))
        theirs = report(s, s.get(Shop, other), date(2026, 11, 1), date(2026, 11, 30), datetime.now(UTC))
        december = report(s, s.get(Shop, shop_id), date(2026, 12, 1), date(2026, 12, 31), datetime.now(UTC))
    [kept] = november["crises"]
    assert kept["cause"] == "UPS parcels to 13, PT" and kept["incidents"] == 3 and kept["status"] == "resolved"
    assert kept["summary"] == "UPS lost a lorry near Porto; all re-sent."
    assert theirs["crises"] == [] and december["crises"] == []
