"""Reconciliation against local fakes of both platforms: lost webhooks never hide a stalled order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from graphql import parse, validate

from connectors.http import Retry
from connectors.shopify_admin import ORDERS_QUERY
from jobs import reconcile, use_app
from plugin import config, db, vault
from plugin.models import Shop, WebhookDelivery
from plugin.shops import add_shopify, add_woocommerce
from tests.support.fake_shopify import FakeShopify, admin_schema, fulfillment_node, order_node
from tests.support.fake_woocommerce import FakeWooCommerce
from tests.support.platforms import wc_order
from tests.support.work import count, incidents, run_worker

NOW = datetime.now(UTC).replace(microsecond=0)
SIX_BUSINESS_DAYS_AGO = NOW - timedelta(days=9)


def fast_retry(sleeps=None):
    return Retry(attempts=4, sleep=(sleeps.append if sleeps is not None else (lambda s: None)), timeout=0.5)


@pytest.fixture
def shopify(app, httpserver):
    fake = FakeShopify(httpserver)
    with db(app).session() as s:
        shop, _, _ = add_shopify(s, vault(app), config(app), domain="lost-hooks.myshopify.com", token="shpat_test",
                              admin_url=fake.endpoint)
        s.commit()
        fake.shop_id = shop.id
    use_app(app)
    return fake


@pytest.fixture
def woo(app, httpserver):
    fake = FakeWooCommerce(httpserver)
    with db(app).session() as s:
        shop, _, _ = add_woocommerce(s, vault(app), config(app), url=fake.url, key="ck_test", secret="cs_test",
                                     webhook_secret="x")
        s.commit()
        fake.shop_id = shop.id
    use_app(app)
    return fake


def test_the_orders_query_is_valid_against_the_admin_schema_and_the_fake_refuses_what_shopify_would():
    assert validate(admin_schema(), parse(ORDERS_QUERY)) == []
    bad = validate(admin_schema(), parse("{ orders(first: 5) { nodes { financialStatus } } }"))
    assert bad and "financialStatus" in bad[0].message


def test_shopify_stalled_orders_are_found_when_every_webhook_was_lost(app, shopify):
    paid_long_ago = order_node(1001, created_at=SIX_BUSINESS_DAYS_AGO, updated_at=SIX_BUSINESS_DAYS_AGO)
    handed = NOW - timedelta(days=7)
    silent = order_node(1002, created_at=handed - timedelta(hours=3), updated_at=handed, fulfillment="FULFILLED",
                        fulfillments=[fulfillment_node(2002, created_at=handed, display="IN_TRANSIT",
                                                       events=[("IN_TRANSIT", NOW - timedelta(days=5))])])
    attempted = order_node(1003, created_at=NOW - timedelta(days=4), updated_at=NOW - timedelta(hours=2),
                           fulfillment="FULFILLED",
                           fulfillments=[fulfillment_node(2003, created_at=NOW - timedelta(days=3),
                                                          display="ATTEMPTED_DELIVERY",
                                                          events=[("IN_TRANSIT", NOW - timedelta(days=2)),
                                                                  ("ATTEMPTED_DELIVERY", NOW - timedelta(hours=2))])])
    for n in (paid_long_ago, silent, attempted):
        shopify.add(n)
    [result] = reconcile.run(retry=fast_retry())
    assert result["finished"] and result["orders"] == 3
    run_worker(app)
    found = {i["order"]["number"]: (i["kind"], i["responsibility"]) for i in incidents(app)}
    assert found == {"#1001": ("fulfillment_late", "shop"), "#1002": ("transit_stalled", "carrier"),
                     "#1003": ("delivery_failed", "customer")}
    silent_incident = next(i for i in incidents(app) if i["order"]["number"] == "#1002")
    assert silent_incident["evidence"][0]["source"] == "webhook:reconcile/order"
    assert "UPS 1Z999" in silent_incident["evidence"][-1]["fact"]


def test_woocommerce_stalled_orders_are_found_when_every_webhook_was_lost(app, woo):
    old = SIX_BUSINESS_DAYS_AGO.strftime("%Y-%m-%dT%H:%M:%S")
    late = wc_order(id=11, number="11", date_created_gmt=old, date_paid_gmt=old, date_modified_gmt=old,
                    meta_data=[])
    silent = wc_order(id=12, number="12")
    silent["meta_data"][1]["value"][0]["date_shipped"] = str(int((NOW - timedelta(days=7)).timestamp()))
    silent["meta_data"].append({"id": 2, "key": "ts_shipment_status", "value": [
        {"status": "in_transit", "status_date": (NOW - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S")}]})
    attempted = wc_order(id=13, number="13")
    attempted["meta_data"].append({"id": 3, "key": "ts_shipment_status", "value": [
        {"status": "failed_attempt", "status_date": NOW.strftime("%Y-%m-%dT%H:%M:%S")}]})
    for o in (late, silent, attempted):
        woo.add(o)
    [result] = reconcile.run(retry=fast_retry())
    assert result["finished"] and result["orders"] == 3
    run_worker(app)
    found = {i["order"]["number"]: (i["kind"], i["responsibility"]) for i in incidents(app)}
    assert found == {"#11": ("fulfillment_late", "shop"), "#12": ("transit_stalled", "carrier"),
                     "#13": ("delivery_failed", "customer")}
    assert all("oauth_signature" in r for r in woo.requests)


def test_pages_are_followed_and_a_second_pass_fetches_only_what_changed(app, shopify):
    for i in range(230):
        t = NOW - timedelta(hours=10) + timedelta(seconds=i)
        shopify.add(order_node(5000 + i, created_at=t, updated_at=t))
    [first] = reconcile.run(retry=fast_retry())
    assert (first["pages"], first["orders"], first["stored"], first["finished"]) == (3, 230, 230, True)
    [again] = reconcile.run(retry=fast_retry())
    # The window overlaps the last pass by a few minutes; nothing older comes back.
    assert again["orders"] == 0 and again["stored"] == 0
    with db(app).session() as s:
        shop = s.get(Shop, shopify.shop_id)
        assert shop.last_synced_at is not None and shop.sync_state is None


def test_a_pass_stopped_by_a_failure_storm_resumes_where_it_stopped(app, woo):
    for i in range(250):
        t = (NOW - timedelta(hours=5) + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S")
        woo.add(wc_order(id=100 + i, number=str(100 + i), date_modified_gmt=t))
    [partial] = reconcile.run(max_pages=1, retry=fast_retry())
    assert partial["pages"] == 1 and not partial["finished"]
    woo.failures = ["500"] * 10  # more than the retries: the pass gives up, keeping its place
    [failed] = reconcile.run(retry=fast_retry())
    assert "kept failing" in failed["error"]
    with db(app).session() as s:
        assert s.get(Shop, woo.shop_id).sync_state["cursor"] == "2"
    assert len({r["oauth_nonce"] for r in woo.requests}) == len(woo.requests)  # every retry signed afresh
    woo.failures = []
    woo.requests.clear()
    [rest] = reconcile.run(retry=fast_retry())
    assert rest["finished"] and rest["orders"] == 150
    assert [r["page"] for r in woo.requests] == ["2", "3"]
    assert count(app, WebhookDelivery) == 250


def test_throttling_429_500_and_timeouts_are_waited_out(app, shopify):
    shopify.add(order_node(1, created_at=NOW - timedelta(hours=1), updated_at=NOW - timedelta(hours=1)))
    shopify.failures = ["throttled", "429", "500", "timeout"]
    sleeps: list[float] = []
    [result] = reconcile.run(retry=Retry(attempts=6, sleep=sleeps.append, timeout=0.5))
    assert result["finished"] and result["orders"] == 1
    # THROTTLED waits (cost - available) / restoreRate = (752 - 52) / 100 s; 429 honours Retry-After.
    assert sleeps[0] == pytest.approx(7.0) and sleeps[1] == pytest.approx(2.0)
    assert len(sleeps) == 4


def test_a_refused_token_is_reported_not_retried(app, shopify):
    shopify.token, shopify.tokens = "another-token", set()
    [result] = reconcile.run(retry=fast_retry())
    assert "refused the access token" in result["error"]
    assert len(shopify.requests) == 1


def test_an_unknown_shop_is_an_error(app):
    use_app(app)
    assert reconcile.run(shop_id=999) == [{"shop_id": 999, "error": "no such shop"}]
