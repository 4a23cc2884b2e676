"""Deadlines, not scans: the sweep re-assesses only due orders and opens or resolves stall incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs import sweep, use_app
from plugin.extensions import config, db, vault
from plugin.shops.connect import install_shopify
from tests.support.platforms import (
    SHOP_DOMAIN,
    connect_shopify,
    connect_woocommerce,
    post_shopify,
    post_wc,
    shopify_order,
    shopify_sample,
    wc_order,
)
from tests.support.work import incidents, order, run_worker

PAID = dict(cancelled_at=None, cancel_reason=None, financial_status="paid")


def test_an_order_paid_long_ago_and_never_shipped_opens_at_once(app, client):
    connect_shopify(app)
    long_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    post_shopify(client, shopify_order(**PAID, processed_at=long_ago, created_at=long_ago), topic="orders/paid")
    run_worker(app)
    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"]) == ("fulfillment_late", "shop")
    assert "handling time of 2 business day(s) ended" in inc["evidence"][-1]["fact"]


def test_the_sweep_opens_when_the_deadline_passes_and_shipping_resolves_it(app, client):
    connect_shopify(app)
    post_shopify(client, shopify_order(**PAID), topic="orders/paid")
    run_worker(app)
    assert incidents(app) == []
    due = order(app, "820982911946154508").next_check_at
    assert due is not None and due > datetime.now(UTC)

    use_app(app)
    assert sweep.run(now=due - timedelta(minutes=1))["orders_checked"] == 0  # not due yet: not even read
    assert sweep.run(now=due + timedelta(minutes=1))["orders_checked"] == 1
    [inc] = incidents(app)
    # The shop's default rules owe a shipping refund and a 10 % coupon: they are on their way.
    assert (inc["kind"], inc["status"]) == ("fulfillment_late", "compensating")
    assert inc["evidence"][-1]["source"] == "sweep"
    assert sorted(c["action"] for c in inc["compensations"]) == ["coupon_percent", "refund_shipping"]

    fulfillment = shopify_sample("fulfillments_update")
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    fulfillment.update(status="success", shipment_status="in_transit", created_at=now, updated_at=now)
    post_shopify(client, fulfillment, topic="fulfillments/update")
    run_worker(app)
    [inc] = incidents(app)
    assert inc["status"] == "resolved" and "handed to the carrier" in inc["evidence"][-1]["fact"]
    # Now the carrier's clock runs: the next check is the scan-gap or delivery deadline.
    assert order(app, "820982911946154508").next_check_at > datetime.now(UTC)


def test_a_silent_carrier_is_found_by_the_sweep_and_a_new_scan_resolves_it(app, client):
    shop_id, _ = connect_woocommerce(app)
    payload = wc_order()
    payload["meta_data"].append({"id": 1, "key": "ts_shipment_status",
                                 "value": [{"status": "in_transit", "status_date": payload["date_paid_gmt"]}]})
    post_wc(client, shop_id, payload)
    run_worker(app)
    use_app(app)
    sweep.run(now=datetime.now(UTC) + timedelta(days=3, hours=2))
    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"]) == ("transit_stalled", "carrier")

    payload["meta_data"][-1]["value"][0].update(status="delivered",
                                                 status_date=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    payload["date_modified_gmt"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    post_wc(client, shop_id, payload)
    run_worker(app)
    [inc] = incidents(app)
    assert inc["status"] == "resolved" and "delivered" in inc["evidence"][-1]["fact"]
    assert order(app, "727").next_check_at is None


def test_a_failed_delivery_attempt_scanned_by_the_carrier_is_the_customers(app, client):
    connect_shopify(app)
    now = datetime.now(UTC).replace(microsecond=0)
    post_shopify(client, shopify_order(**PAID, processed_at=(now - timedelta(days=3)).isoformat()))
    fulfillment = shopify_sample("fulfillments_update")
    two_days_ago = (now - timedelta(days=2)).isoformat()
    fulfillment.update(status="success", shipment_status="in_transit", created_at=two_days_ago,
                       updated_at=two_days_ago)
    post_shopify(client, fulfillment, topic="fulfillments/update")
    event = shopify_sample("fulfillment_events_create")
    event.update(status="attempted_delivery", happened_at=now.isoformat(), message="Nobody home")
    post_shopify(client, event, topic="fulfillment_events/create")
    run_worker(app)
    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"]) == ("delivery_failed", "customer")
    assert "failed delivery attempt" in inc["evidence"][-1]["fact"]


def test_a_late_delivery_moves_from_the_shops_verdict_to_the_carriers_and_says_why(app, client):
    from plugin.orders.calendars import Calendar

    connect_shopify(app)
    cal = Calendar()  # the shop's default calendar: UTC, Monday to Friday, 09:00-18:00
    now = datetime.now(UTC).replace(microsecond=0)
    paid, handed = now - timedelta(days=8), now - timedelta(days=3)
    handling_due = cal.add_business_days(paid, 2)
    promised, expected = cal.add_business_days(handling_due, 5), cal.add_business_days(handed, 5)
    assert handling_due < handed and promised < expected  # handed over late: the shop delayed it first
    post_shopify(client, shopify_order(**PAID, processed_at=paid.isoformat(), created_at=paid.isoformat()))
    fulfillment = shopify_sample("fulfillments_update")
    fulfillment.update(status="success", shipment_status=None, created_at=handed.isoformat(),
                       updated_at=handed.isoformat())
    post_shopify(client, fulfillment, topic="fulfillments/update")
    run_worker(app)
    use_app(app)

    sweep.run(now=max(promised, now) + timedelta(minutes=1))
    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"]) == ("delivery_late", "shop")
    assert "after the handling time ended" in inc["evidence"][-1]["fact"]

    sweep.run(now=expected + (handed - handling_due) + timedelta(days=1))  # the carrier's overrun is longer now
    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"]) == ("delivery_late", "carrier")
    assert any("verdict changed from shop to carrier" in e["fact"] for e in inc["evidence"])


def test_the_carriers_estimate_from_a_scan_sets_the_delivery_deadline(app, client):
    connect_shopify(app)
    now = datetime.now(UTC).replace(microsecond=0)
    post_shopify(client, shopify_order(**PAID, processed_at=(now - timedelta(days=1)).isoformat()))
    fulfillment = shopify_sample("fulfillments_update")
    fulfillment.update(status="success", shipment_status="in_transit", created_at=now.isoformat(),
                       updated_at=now.isoformat())
    post_shopify(client, fulfillment, topic="fulfillments/update")
    eta = now + timedelta(hours=30)
    event = shopify_sample("fulfillment_events_create")
    event.update(status="in_transit", happened_at=now.isoformat(), estimated_delivery_at=eta.isoformat())
    post_shopify(client, event, topic="fulfillment_events/create")
    run_worker(app)
    assert order(app, "820982911946154508").estimated_delivery_at == eta
    use_app(app)
    sweep.run(now=eta + timedelta(hours=1))
    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"]) == ("delivery_late", "carrier")
    assert "estimated delivery" in inc["evidence"][-1]["fact"]


def test_an_uninstalled_shops_orders_are_not_swept_and_reinstalling_picks_them_up_again(app, client):
    connect_shopify(app)
    post_shopify(client, shopify_order(**PAID), topic="orders/paid")
    run_worker(app)
    due = order(app, "820982911946154508").next_check_at
    post_shopify(client, {"id": 1, "domain": SHOP_DOMAIN}, topic="app/uninstalled")
    run_worker(app)

    use_app(app)
    assert sweep.run(now=due + timedelta(days=30))["orders_checked"] == 0
    assert incidents(app) == []  # no stall found in what was known a month ago, nobody written to
    with db(app).session() as s, s.begin():  # installed again: the OAuth callback switches it back on
        install_shopify(s, vault(app), config(app), domain=SHOP_DOMAIN, credentials={"access_token": "shpat_new"})
    assert sweep.run(now=due + timedelta(minutes=1))["orders_checked"] == 1
    assert [i["kind"] for i in incidents(app)] == ["fulfillment_late"]
