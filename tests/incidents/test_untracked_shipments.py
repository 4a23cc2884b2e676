"""Orders handed over with no tracking data: the shop's part is judged, the carrier's never is.

Signed webhooks through the real endpoint, inbox, Redis and worker; the sweep at a fixed `now` a week and two
weeks after hand-over. Each platform's tracked twin of the same order proves the same set-up does judge.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from jobs import sweep, use_app
from plugin.compensation.ledger import plan_for_incident
from plugin.extensions import db
from plugin.storage.models import Compensation, Incident, Order, Shop
from tests.support.platforms import (
    connect_shopify,
    connect_woocommerce,
    post_shopify,
    post_wc,
    shopify_order,
    shopify_sample,
    wc_order,
)
from tests.support.work import count, incidents, order, run_worker

NOT_FOLLOWED = "no tracking data from the carrier: delivery is not followed"
SHOPIFY_ORDER = "820982911946154508"


def _every_day_is_a_business_day(app, shop_id: int) -> None:
    """Deadlines in whole days whatever weekday the suite runs on: day 7 is past a 5-day transit."""
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        shop.policy = {**shop.policy, "timing": {**shop.policy["timing"], "business_days": [0, 1, 2, 3, 4, 5, 6]}}
        s.commit()


def _sweep_on_days(app, handed: datetime, *days: int) -> list[list[tuple[str, str]]]:
    use_app(app)
    seen = []
    for day in days:
        sweep.run(now=handed + timedelta(days=day, hours=1))
        seen.append([(i["kind"], i["responsibility"]) for i in incidents(app) if i["status"] != "dismissed"])
    return seen


def _wc_completed(tracking: bool, **changes) -> tuple[dict, datetime]:
    payload = wc_order(status="completed", **changes)
    handed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    payload["date_completed_gmt"] = handed.strftime("%Y-%m-%dT%H:%M:%S")
    if not tracking:  # no Shipment Tracking or TrackShip plugin: WooCommerce only says "completed"
        payload["meta_data"] = [m for m in payload["meta_data"] if m["key"] != "_wc_shipment_tracking_items"]
    return payload, handed


def _wc_shop(app) -> int:
    shop_id, _ = connect_woocommerce(app)
    _every_day_is_a_business_day(app, shop_id)
    return shop_id


def test_a_completed_woocommerce_order_without_tracking_gets_no_carrier_verdict(app, client):
    shop_id = _wc_shop(app)
    payload, handed = _wc_completed(tracking=False)
    post_wc(client, shop_id, payload)
    run_worker(app)
    o = order(app, "727")
    assert o.shipped_at is not None and o.next_check_at is None  # handed over, and nothing left to look at
    assert _sweep_on_days(app, handed, 7, 14, 60) == [[], [], []]
    assert count(app, Compensation) == 0


def test_the_same_woocommerce_order_with_tracking_meta_is_judged(app, client):
    shop_id = _wc_shop(app)
    payload, handed = _wc_completed(tracking=True)
    post_wc(client, shop_id, payload)
    run_worker(app)
    assert _sweep_on_days(app, handed, 7, 14) == [[("delivery_late", "carrier")], [("lost", "carrier")]]
    [inc] = incidents(app)
    assert any("USPS 9400111899560000000000" in e["fact"] for e in inc["evidence"])
    assert [c["action"] for c in inc["compensations"]] == ["refund_percent"]  # held for the merchant's approval


def test_tracking_that_arrives_later_replaces_the_stand_in_and_is_judged(app, client):
    shop_id = _wc_shop(app)
    untracked, handed = _wc_completed(tracking=False)
    post_wc(client, shop_id, untracked)
    run_worker(app)
    tracked, _ = _wc_completed(tracking=True, date_modified_gmt=(handed + timedelta(minutes=20)).strftime(
        "%Y-%m-%dT%H:%M:%S"))
    post_wc(client, shop_id, tracked)
    run_worker(app)
    o = order(app, "727")
    assert [s["id"] for s in o.facts["shipments"]] == ["7f4978c390ee633c6294ae0f258656f9"]
    assert o.next_check_at is not None
    assert _sweep_on_days(app, handed, 7) == [[("delivery_late", "carrier")]]


def _shopify_fulfilled(client, tracking: bool, updated: datetime | None = None) -> datetime:
    handed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    fulfillment = shopify_sample("fulfillments_update")
    fulfillment.update(status="success", shipment_status=None, created_at=handed.isoformat(),
                       updated_at=(updated or handed).isoformat())
    if not tracking:  # marked as fulfilled by hand, with no carrier or tracking number
        fulfillment.update(tracking_company=None, tracking_number=None, tracking_numbers=[], tracking_url=None,
                           tracking_urls=[])
    post_shopify(client, fulfillment, topic="fulfillments/update")
    return handed


def _shopify_shop(app, client) -> None:
    shop_id, _ = connect_shopify(app)
    _every_day_is_a_business_day(app, shop_id)
    post_shopify(client, shopify_order(cancelled_at=None, cancel_reason=None, financial_status="paid"),
                 topic="orders/paid")


def test_a_shopify_fulfillment_without_status_or_tracking_number_gets_no_carrier_verdict(app, client):
    _shopify_shop(app, client)
    handed = _shopify_fulfilled(client, tracking=False)
    run_worker(app)
    assert order(app, SHOPIFY_ORDER).next_check_at is None
    assert _sweep_on_days(app, handed, 7, 14, 60) == [[], [], []]
    assert count(app, Compensation) == 0


def test_the_same_shopify_fulfillment_with_a_tracking_number_is_judged(app, client):
    _shopify_shop(app, client)
    handed = _shopify_fulfilled(client, tracking=True)
    run_worker(app)
    assert _sweep_on_days(app, handed, 7, 14) == [[("delivery_late", "carrier")], [("lost", "carrier")]]


def test_a_shopify_fulfillment_that_gets_a_tracking_number_later_is_judged(app, client):
    _shopify_shop(app, client)
    handed = _shopify_fulfilled(client, tracking=False)
    run_worker(app)
    _shopify_fulfilled(client, tracking=True, updated=handed + timedelta(minutes=10))
    run_worker(app)
    assert _sweep_on_days(app, handed, 7) == [[("delivery_late", "carrier")]]


def test_an_incident_opened_without_carrier_data_is_dismissed_and_what_it_still_owed_is_cancelled(app, client):
    shop_id = _wc_shop(app)
    payload, handed = _wc_completed(tracking=False)
    post_wc(client, shop_id, payload)
    run_worker(app)
    day_14 = handed + timedelta(days=14, hours=1)
    with db(app).session() as s:  # what earlier versions left behind: a lost parcel, a refund awaiting approval
        o = s.execute(select(Order).where(Order.platform_order_id == "727")).scalar_one()
        inc = Incident(shop_id=shop_id, kind="lost", responsibility="carrier", status="open", opened_at=day_14,
                       late_since=handed, evidence=[{"at": "x", "source": "sweep", "fact": "lost → carrier"}])
        o.incidents.append(inc)
        [refund] = plan_for_incident(s, inc, o, o.shop, day_14)
        assert refund.state == "awaiting_approval"
        o.next_check_at = day_14
        s.commit()

    use_app(app)
    sweep.run(now=day_14 + timedelta(minutes=1))
    [inc] = incidents(app)
    assert inc["status"] == "dismissed" and NOT_FOLLOWED in inc["evidence"][-1]["fact"]
    assert [c["state"] for c in inc["compensations"]] == ["cancelled"]
    assert order(app, "727").next_check_at is None
