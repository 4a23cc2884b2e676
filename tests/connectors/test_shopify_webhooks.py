"""Shopify deliveries through the real endpoint, inbox, Redis and worker into incidents."""

from __future__ import annotations

import json

from plugin.storage.models import Incident, Order, WebhookDelivery
from tests.conftest import APP_SECRET
from tests.support.platforms import (
    SHOP_DOMAIN,
    connect_shopify,
    post_shopify,
    shopify_order,
    shopify_sample,
    sign,
)
from tests.support.work import count, deliveries, incidents, order, run_worker

ORDER_ID = "820982911946154508"


def test_sample_cancelled_order_becomes_a_customer_incident(app, client):
    shop_id, _ = connect_shopify(app)
    r = post_shopify(client, shopify_sample("orders_create"), topic="orders/cancelled")
    assert r.status_code == 200
    assert r.get_json()["status"] == "accepted"
    run_worker(app)

    [inc] = incidents(app)
    assert inc["shop_id"] == shop_id and inc["platform"] == "shopify"
    assert inc["kind"] == "order_cancelled" and inc["responsibility"] == "customer"
    assert inc["status"] == "open" and inc["resolved_at"] is None
    assert inc["order"] == {"id": ORDER_ID, "number": "#9999", "customer_email": "jon@example.com",
                            "total": "404.95", "shipping": "10.00", "currency": "USD",
                            # where it was going and how, and what was in it: what the desk and analytics group by
                            "country": "US", "region": "KY", "carrier": None, "service": "Generic Shipping",
                            "items": [{"sku": "SKU2006-001", "title": "Aviator sunglasses", "quantity": 1},
                                      {"sku": "LENS-PROTECT-2YR", "title": "Lens Protection Plan (2 Year)",
                                       "quantity": 1},
                                      {"sku": "CASE-LEATHER-PREM", "title": "Premium Leather Case", "quantity": 1},
                                      {"sku": "SKU2006-020", "title": "Mid-century lounger", "quantity": 1},
                                      {"sku": "SKU2006-035", "title": "Coffee table", "quantity": 1}]}
    assert inc["opened_at"].endswith("Z")
    assert any(e["source"] == "webhook:orders/cancelled" and "customer" in e["fact"] for e in inc["evidence"])
    assert inc["compensations"] == []


def test_declined_payment_opens_a_payment_incident(app, client):
    connect_shopify(app)
    post_shopify(client, shopify_order(cancel_reason="declined"), topic="orders/cancelled")
    run_worker(app)
    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"]) == ("payment_failed", "payment")
    assert "declined" in inc["evidence"][-1]["fact"]


def test_shop_cancellation_for_stock_is_the_shops_fault(app, client):
    connect_shopify(app)
    post_shopify(client, shopify_order(cancel_reason="inventory"), topic="orders/cancelled")
    run_worker(app)
    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"]) == ("order_cancelled", "shop")


def test_voided_payment_resolves_when_the_order_is_paid_later(app, client):
    connect_shopify(app)
    post_shopify(client, shopify_order(cancelled_at=None, cancel_reason=None, financial_status="voided",
                                       updated_at="2026-11-20T10:00:00-05:00"))
    run_worker(app)
    [inc] = incidents(app)
    assert (inc["kind"], inc["status"]) == ("payment_failed", "open")

    post_shopify(client, shopify_order(cancelled_at=None, cancel_reason=None, financial_status="paid",
                                       updated_at="2026-11-21T10:00:00-05:00"), topic="orders/paid")
    run_worker(app)
    [inc] = incidents(app)
    assert inc["status"] == "resolved" and inc["resolved_at"] is not None
    assert "payment succeeded" in inc["evidence"][-1]["fact"]


def test_the_same_delivery_three_times_is_stored_and_processed_once(app, client):
    connect_shopify(app)
    payload = shopify_order(cancel_reason="declined")
    answers = [post_shopify(client, payload, webhook_id="fixed-id-1").get_json()["status"] for _ in range(3)]
    assert answers == ["accepted", "duplicate", "duplicate"]
    run_worker(app)
    assert count(app, WebhookDelivery) == 1
    assert len(incidents(app)) == 1


def test_new_deliveries_about_one_order_update_its_incident_never_duplicate_it(app, client):
    connect_shopify(app)
    for i, ts in enumerate(["2026-11-20T10:00:00Z", "2026-11-20T11:00:00Z", "2026-11-20T12:00:00Z"]):
        post_shopify(client, shopify_order(cancel_reason="declined", updated_at=ts, note=f"n{i}"))
        run_worker(app)
    assert len(incidents(app)) == 1
    assert count(app, Order) == 1


def test_out_of_order_deliveries_never_move_the_order_back(app, client):
    connect_shopify(app)
    newer = shopify_order(cancelled_at=None, cancel_reason=None, financial_status="paid",
                          updated_at="2026-11-21T10:00:00Z")
    older = shopify_order(cancelled_at=None, cancel_reason=None, financial_status="voided",
                          updated_at="2026-11-20T10:00:00Z")
    post_shopify(client, newer, topic="orders/paid")
    run_worker(app)
    post_shopify(client, older, topic="orders/updated")
    run_worker(app)
    o = order(app, ORDER_ID)
    assert o.financial_status == "paid"
    assert incidents(app) == []


def test_out_of_order_in_one_batch_keeps_the_newest(app, client):
    connect_shopify(app)
    post_shopify(client, shopify_order(cancelled_at=None, cancel_reason=None, financial_status="paid",
                                       updated_at="2026-11-21T10:00:00Z"))
    post_shopify(client, shopify_order(cancel_reason="declined", updated_at="2026-11-19T10:00:00Z"))
    run_worker(app)
    assert order(app, ORDER_ID).financial_status == "paid"
    assert incidents(app) == []


def test_fulfillment_and_tracking_scan_join_the_order_snapshot(app, client):
    connect_shopify(app)
    post_shopify(client, shopify_order(cancelled_at=None, cancel_reason=None, financial_status="paid"))
    post_shopify(client, shopify_sample("fulfillments_update"), topic="fulfillments/update")
    post_shopify(client, shopify_sample("fulfillment_events_create"), topic="fulfillment_events/create")
    post_shopify(client, shopify_sample("refunds_create"), topic="refunds/create")
    run_worker(app)
    o = order(app, ORDER_ID)
    [shipment] = o.facts["shipments"]
    assert shipment["carrier"] == "UPS" and shipment["tracking_number"] == "1z827wk74630"
    assert shipment["status"] == "in_transit" and shipment["events"][0]["status"] == "in_transit"
    assert o.shipped_at is not None and o.carrier == "UPS"
    assert o.facts["refunds"][0]["amount"] == "85.00"


def test_bad_signature_is_refused_and_nothing_is_stored(app, client):
    connect_shopify(app)
    r = post_shopify(client, shopify_sample(), secret="not-the-secret")
    assert r.status_code == 401
    body = json.dumps(shopify_sample()).encode()
    r = post_shopify(client, body, headers={"X-Shopify-Hmac-Sha256": sign(body + b" ", "shop-webhook-secret")})
    assert r.status_code == 401
    r = post_shopify(client, shopify_sample(), headers={"X-Shopify-Hmac-Sha256": None})
    assert r.status_code == 401
    assert deliveries(app) == []


def test_missing_headers_and_malformed_json_are_400_and_store_nothing(app, client):
    connect_shopify(app)
    assert post_shopify(client, shopify_sample(), headers={"X-Shopify-Topic": None}).status_code == 400
    assert post_shopify(client, shopify_sample(), headers={"X-Shopify-Webhook-Id": None}).status_code == 400
    truncated = json.dumps(shopify_sample()).encode()[:-40]
    assert post_shopify(client, truncated).status_code == 400
    assert post_shopify(client, b"[1, 2, 3]").status_code == 400
    assert post_shopify(client, b"\xff\xfe not utf-8").status_code == 400
    assert deliveries(app) == []


def test_body_over_5_mib_is_413(app, client):
    connect_shopify(app)
    big = b'{"id": 1, "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    assert post_shopify(client, big).status_code == 413
    assert deliveries(app) == []


def test_unknown_shop_signed_by_the_app_is_acknowledged_and_not_processed(app, client):
    r = post_shopify(client, shopify_sample(), secret=APP_SECRET, domain="other-shop.myshopify.com")
    assert r.status_code == 200
    run_worker(app)
    [d] = deliveries(app)
    assert d.processed_at is not None and "no active shop" in d.error
    assert count(app, Incident) == 0


def test_unknown_shop_with_a_wrong_signature_is_401(app, client):
    r = post_shopify(client, shopify_sample(), secret="nope", domain="other-shop.myshopify.com")
    assert r.status_code == 401


def test_shop_without_its_own_secret_uses_the_app_secret(app, client):
    connect_shopify(app, secret=None)
    assert post_shopify(client, shopify_sample(), secret=APP_SECRET).status_code == 200
    assert post_shopify(client, shopify_sample(), secret="shop-webhook-secret").status_code == 401


def test_a_payload_that_verifies_but_makes_no_sense_is_kept_with_its_error(app, client):
    connect_shopify(app)
    post_shopify(client, {"id": 5, "total_price": {"oops": 1}, "updated_at": "2026-11-20T10:00:00Z"})
    post_shopify(client, shopify_order(cancel_reason="declined"))
    run_worker(app)
    first, second = deliveries(app)
    assert first.processed_at is not None and first.error == "PayloadError: not an amount: {'oops': 1}"
    assert second.error is None
    assert len(incidents(app)) == 1


def test_compliance_topics_are_acknowledged(app, client):
    connect_shopify(app)
    for name, topic in [("customers_data_request", "customers/data_request"),
                        ("customers_redact", "customers/redact"), ("shop_redact", "shop/redact")]:
        payload = shopify_sample(name)
        payload["shop_domain"] = SHOP_DOMAIN
        assert post_shopify(client, payload, topic=topic).status_code == 200
    run_worker(app)
    assert all(d.processed_at is not None for d in deliveries(app))
