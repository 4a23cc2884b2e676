"""Reconciliation against local fakes of both platforms: lost webhooks never hide a stalled order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from graphql import parse, validate
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from connectors.http import Retry
from connectors.shopify.admin import ORDERS_QUERY
from jobs import reconcile, use_app
from plugin.extensions import config, db, vault
from plugin.orders.facts import iso
from plugin.shops.connect import add_shopify, add_woocommerce
from plugin.storage.models import Shop, WebhookDelivery
from simulated.shopify import FakeShopify, admin_schema, fulfillment_node, order_node
from simulated.woocommerce import FakeWooCommerce
from tests.support.platforms import wc_order
from tests.support.work import count, incidents, run_worker

NOW = datetime.now(UTC).replace(microsecond=0)
SIX_BUSINESS_DAYS_AGO = NOW - timedelta(days=9)


def fast_retry(sleeps=None):
    return Retry(attempts=4, sleep=(sleeps.append if sleeps is not None else (lambda s: None)), timeout=2.0)


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
    # Handed over 4 days ago (always fewer than the 5 business days of transit, whatever day it is today),
    # last scanned 3.5 days ago (more than the 3-day gap): stalled in transit, not yet late.
    handed = NOW - timedelta(days=4)
    silent = order_node(1002, created_at=handed - timedelta(hours=3), updated_at=handed, fulfillment="FULFILLED",
                        fulfillments=[fulfillment_node(2002, created_at=handed, display="IN_TRANSIT",
                                                       events=[("IN_TRANSIT", NOW - timedelta(days=3.5))])])
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
    # As on Shopify: shipped 4 days ago, silent for 3.5 days; stalled in transit on any day of the week.
    silent["meta_data"][1]["value"][0]["date_shipped"] = str(int((NOW - timedelta(days=4)).timestamp()))
    silent["meta_data"].append({"id": 2, "key": "ts_shipment_status", "value": [
        {"status": "in_transit", "status_date": (NOW - timedelta(days=3.5)).strftime("%Y-%m-%dT%H:%M:%S")}]})
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
    stamps = [(NOW - timedelta(hours=5) + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S") for i in range(250)]
    for i, t in enumerate(stamps):
        woo.add(wc_order(id=100 + i, number=str(100 + i), date_modified_gmt=t))
    [partial] = reconcile.run(max_pages=1, retry=fast_retry())
    assert partial["pages"] == 1 and not partial["finished"]
    assert partial["error"].startswith("stopped after 1 page without reaching the end")
    woo.failures = ["500"] * 10  # more than the retries: the pass gives up, keeping its place
    [failed] = reconcile.run(retry=fast_retry())
    assert "kept failing" in failed["error"]
    with db(app).session() as s:
        shop = s.get(Shop, woo.shop_id)
        # The place is the last modification time seen, less a second (modified_after is exclusive).
        assert json.loads(shop.sync_state["cursor"]) == {"after": stamps[98]}
        assert "kept failing" in shop.sync_error and shop.sync_error_at is not None
    assert len({r["oauth_nonce"] for r in woo.requests}) == len(woo.requests)  # every retry signed afresh
    woo.failures = []
    woo.requests.clear()
    [rest] = reconcile.run(retry=fast_retry())
    assert rest["finished"] and rest["stored"] == 150 and rest["error"] is None
    assert [r["modified_after"] for r in woo.requests] == [stamps[98], stamps[197]]
    assert count(app, WebhookDelivery) == 250
    with db(app).session() as s:
        shop = s.get(Shop, woo.shop_id)
        assert shop.sync_error is None and shop.sync_error_at is None and shop.sync_state is None


def test_throttling_429_500_and_timeouts_are_waited_out(app, shopify):
    shopify.add(order_node(1, created_at=NOW - timedelta(hours=1), updated_at=NOW - timedelta(hours=1)))
    shopify.failures = ["throttled", "429", "500", "timeout"]
    sleeps: list[float] = []
    [result] = reconcile.run(retry=Retry(attempts=6, sleep=sleeps.append, timeout=2.0))
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


# -- one bad shop never stops the others; nonsense is bounded ------------------------------------------------

def _deliveries_of(app, shop_id: int) -> list[dict]:
    with db(app).session() as s:
        rows = s.execute(select(WebhookDelivery).where(WebhookDelivery.shop_id == shop_id)).scalars()
        return [json.loads(r.body) for r in rows]


def _shop(app, shop_id: int) -> Shop:
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        s.expunge(shop)
        return shop


@pytest.mark.parametrize("trouble", ["object", "not_objects", "broken_credentials"])
def test_one_failing_shop_never_stops_the_others(app, shopify, woo, trouble, caplog):
    shopify.add(order_node(1, created_at=NOW - timedelta(hours=1), updated_at=NOW - timedelta(hours=1)))
    woo.add(wc_order(id=21, number="21"))
    if trouble == "broken_credentials":  # an exception that is not the platform's: a KeyError in our own code
        with db(app).session() as s:
            s.get(Shop, shopify.shop_id).credentials = vault(app).encrypt("{}")
            s.commit()
    else:
        shopify.answer = trouble
    first, second = reconcile.run(retry=fast_retry())
    assert first["shop_id"] == shopify.shop_id and not first["finished"] and first["error"]
    assert second["finished"] and second["stored"] == 1 and second["error"] is None
    assert [o["id"] for o in _deliveries_of(app, woo.shop_id)] == [21]
    failed = _shop(app, shopify.shop_id)
    assert failed.sync_error == first["error"] and failed.sync_error_at is not None
    assert _shop(app, woo.shop_id).sync_error is None
    logged = [r for r in caplog.records if r.levelname == "ERROR" and "lost-hooks.myshopify.com" in r.getMessage()]
    assert logged


@pytest.mark.parametrize("platform, answer, reason", [
    ("shopify", "object", "Shopify answered an object where the page of orders belongs"),
    ("shopify", "not_objects", "Shopify's page of orders holds something that is not an order"),
    ("shopify", "stuck", "its page cursor does not move on"),
    ("shopify", "endless", "no order it had not already sent in this pass"),
    ("woocommerce", "object", "the store answered an object where its list of orders belongs"),
    ("woocommerce", "not_objects", "the store's list of orders holds something that is not an order"),
    ("woocommerce", "endless", "which were not asked for"),
])
def test_a_store_answering_nonsense_is_stopped_and_reported_never_looped_on(app, httpserver, platform, answer,
                                                                            reason, request):
    fake = request.getfixturevalue("shopify" if platform == "shopify" else "woo")
    for i in range(150):
        t = NOW - timedelta(hours=2) + timedelta(seconds=i)
        fake.add(order_node(7000 + i, created_at=t, updated_at=t) if platform == "shopify"
                 else wc_order(id=7000 + i, number=str(7000 + i), date_modified_gmt=t.strftime("%Y-%m-%dT%H:%M:%S")))
    fake.answer = answer
    fake.refuse_after = 20  # a client that loops is stopped here, and fails the request count below
    [result] = reconcile.run(retry=fast_retry())
    assert reason in result["error"] and not result["finished"]
    assert len(fake.requests) <= 3
    shop = _shop(app, fake.shop_id)
    assert shop.sync_error == result["error"] and shop.last_synced_at is None


def test_a_pass_never_reads_more_than_the_page_cap(app, shopify):
    for i in range(250):
        t = NOW - timedelta(hours=2) + timedelta(seconds=i)
        shopify.add(order_node(8000 + i, created_at=t, updated_at=t))
    [capped] = reconcile.run(max_pages=2, retry=fast_retry())
    assert (capped["pages"], capped["stored"], capped["finished"]) == (2, 200, False)
    assert "stopped after 2 pages" in capped["error"]
    assert "continues from there" in _shop(app, shopify.shop_id).sync_error
    [rest] = reconcile.run(retry=fast_retry())
    assert rest["finished"] and rest["stored"] == 50 and _shop(app, shopify.shop_id).sync_error is None


# -- WooCommerce pages by modification time ---------------------------------------------------------------------

def _stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def _touch(woo, order_id: int, when: datetime = NOW) -> None:
    woo.orders[order_id] = {**woo.orders[order_id], "date_modified_gmt": _stamp(when), "status": "cancelled"}


def _latest_versions_stored(app, woo) -> bool:
    stored = {(o["id"], o["date_modified_gmt"]) for o in _deliveries_of(app, woo.shop_id)}
    return all((o["id"], o["date_modified_gmt"]) in stored for o in woo.orders.values())


def test_an_order_modified_mid_pass_never_makes_the_pass_skip_another(app, woo):
    for i in range(250):
        woo.add(wc_order(id=100 + i, number=str(100 + i),
                         date_modified_gmt=_stamp(NOW - timedelta(hours=5) + timedelta(seconds=i))))
    # Between the first and the second page, the first order changes and moves to the end of the list.
    woo.before_list = lambda n: _touch(woo, 100) if n == 2 else None
    [result] = reconcile.run(retry=fast_retry())
    assert result["finished"] and result["error"] is None
    assert {o["id"] for o in _deliveries_of(app, woo.shop_id)} == set(range(100, 350))
    assert _latest_versions_stored(app, woo)
    assert all(r["orderby"] == "modified" and r["order"] == "asc" and "page" not in r for r in woo.requests)


def test_more_than_a_page_of_orders_modified_in_one_second_are_all_read(app, woo):
    crowded = NOW - timedelta(hours=3)
    for i in range(30):
        woo.add(wc_order(id=1 + i, number=str(1 + i), date_modified_gmt=_stamp(crowded - timedelta(minutes=30 - i))))
    for i in range(250):  # a bulk edit: 250 orders in the same second
        woo.add(wc_order(id=1000 + i, number=str(1000 + i), date_modified_gmt=_stamp(crowded)))
    for i in range(30):
        woo.add(wc_order(id=5000 + i, number=str(5000 + i), date_modified_gmt=_stamp(crowded + timedelta(minutes=i))))
    # While that second is read page by page, an order already read there changes again and leaves it.
    woo.before_list = lambda n: _touch(woo, 1001) if n == 4 else None
    [result] = reconcile.run(retry=fast_retry())
    assert result["finished"] and result["error"] is None
    assert {o["id"] for o in _deliveries_of(app, woo.shop_id)} == set(woo.orders)
    assert _latest_versions_stored(app, woo)
    within = [r for r in woo.requests if "modified_before" in r]
    assert within and all(r["modified_before"] == _stamp(crowded + timedelta(seconds=1)) and r["orderby"] == "id"
                          for r in within)
    assert len(woo.requests) <= 12


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seconds=st.lists(st.integers(0, 3), min_size=1, max_size=260),
       changes=st.lists(st.tuples(st.integers(1, 6), st.integers(0, 259)), max_size=4))
@example(seconds=[0, 1, 2, 3] * 50, changes=[(2, 0)])  # the first order changes between two pages
def test_every_order_changed_in_the_window_reaches_the_inbox_however_times_collide(app, woo, seconds, changes):
    """Orders crowd into a few seconds and change while the pass reads them: none is ever skipped."""
    with db(app).session() as s:
        s.execute(delete(WebhookDelivery))
        shop = s.get(Shop, woo.shop_id)
        shop.sync_state = shop.last_synced_at = None
        s.commit()
    base = NOW - timedelta(hours=1)
    woo.orders = {}
    woo.requests.clear()
    for i, sec in enumerate(seconds):
        woo.add(wc_order(id=10 + i, number=str(10 + i), date_modified_gmt=_stamp(base + timedelta(seconds=sec))))
    ids = sorted(woo.orders)

    def change(n: int) -> None:
        for at, index in changes:
            if at == n:
                _touch(woo, ids[index % len(ids)], NOW + timedelta(seconds=n))
    woo.before_list = change
    [result] = reconcile.run(retry=fast_retry())
    assert result["finished"] and result["error"] is None
    assert _latest_versions_stored(app, woo)


def test_an_old_page_number_cursor_or_an_unreadable_state_starts_the_window_again(app, woo):
    for i in range(5):
        woo.add(wc_order(id=60 + i, number=str(60 + i)))
    for state in ({"since": iso(NOW - timedelta(days=1)), "started_at": iso(NOW), "cursor": "2"},
                  {"cursor": "7"}, {"since": "yesterday", "started_at": None}):
        with db(app).session() as s:
            s.execute(delete(WebhookDelivery))
            shop = s.get(Shop, woo.shop_id)
            shop.sync_state, shop.last_synced_at = state, None
            s.commit()
        [result] = reconcile.run(retry=fast_retry())
        assert result["finished"] and result["stored"] == 5, state


def test_two_stores_with_the_same_order_number_and_time_both_reach_the_inbox(app, httpserver, woo):
    other = FakeWooCommerce(httpserver)  # the same fake under another host name: another store
    with db(app).session() as s:
        shop, _, _ = add_woocommerce(s, vault(app), config(app), url=other.url.replace("localhost", "127.0.0.1"),
                                     key="ck_test", secret="cs_test", webhook_secret="x")
        s.commit()
        other_id = shop.id
    woo.add(wc_order(id=42, number="42"))
    results = reconcile.run(retry=fast_retry())
    assert [r["stored"] for r in results] == [1, 1]
    assert len(_deliveries_of(app, woo.shop_id)) == len(_deliveries_of(app, other_id)) == 1


def test_an_unexpected_error_is_recorded_without_the_store_keys_it_carried(app, woo):
    with db(app).session() as s:  # a stored URL without its scheme: requests raises with the whole signed URL
        s.get(Shop, woo.shop_id).domain = woo.url.removeprefix("http://")
        s.commit()
    [result] = reconcile.run(retry=fast_retry())
    assert result["error"].startswith("unexpected error (") and "wc/v3/orders?…" in result["error"]
    assert "ck_test" not in result["error"] and "oauth" not in result["error"]
    assert _shop(app, woo.shop_id).sync_error == result["error"]
