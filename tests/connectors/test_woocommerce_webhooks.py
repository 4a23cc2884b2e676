"""WooCommerce deliveries through the real endpoint, inbox, Redis and worker into incidents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from plugin.storage.models import WebhookDelivery
from tests.support.platforms import FIXTURES, connect_woocommerce, post_wc, wc_order
from tests.support.work import count, deliveries, incidents, order, run_worker


def _hours_ago(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


def _fixture_delivery():
    body = (FIXTURES / "woocommerce" / "synthetic_webhook_order_updated.body.json").read_bytes()
    headers = json.loads((FIXTURES / "woocommerce" / "synthetic_webhook_order_updated.headers.json").read_text())
    return body, {k: v for k, v in headers.items() if not k.startswith("_")}


def test_the_signed_fixture_delivery_is_accepted_and_snapshotted(app, client):
    shop_id, _ = connect_woocommerce(app)
    body, headers = _fixture_delivery()
    r = client.post(f"/webhooks/woocommerce/{shop_id}", data=body, headers=headers)
    assert r.status_code == 200 and r.get_json()["status"] == "accepted"
    run_worker(app)
    o = order(app, "727")
    assert (o.financial_status, o.platform_status, o.number) == ("paid", "processing", "#727")
    assert str(o.total) == "29.3500" and o.currency == "USD"
    assert o.carrier == "USPS" and o.shipped_at is not None
    # The fixture's parcel went to USPS in November 2023 and nothing was heard of it since.
    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"]) == ("lost", "carrier")
    assert "USPS 9400111899560000000000" in inc["evidence"][-1]["fact"]


def test_creation_ping_is_answered_200_without_a_signature(app, client):
    shop_id, _ = connect_woocommerce(app)
    r = client.post(f"/webhooks/woocommerce/{shop_id}", data=b"webhook_id=16",
                    headers={"Content-Type": "application/x-www-form-urlencoded",
                             "User-Agent": "WooCommerce/10.2.1 Hookshot (WordPress/6.8.3)"})
    assert r.status_code == 200 and r.get_json()["status"] == "ping"
    assert deliveries(app) == []


def test_failed_payment_opens_a_payment_incident_and_recovers_when_paid(app, client):
    shop_id, _ = connect_woocommerce(app)
    # Relative times: a payment made on a fixed day would, weeks later, also make the shipment late.
    failed, paid = (_hours_ago(h).strftime("%Y-%m-%dT%H:%M:%S") for h in (3, 2))
    post_wc(client, shop_id, wc_order(status="failed", date_paid_gmt=None, date_modified_gmt=failed))
    run_worker(app)
    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"], inc["status"]) == ("payment_failed", "payment", "open")
    assert inc["platform"] == "woocommerce" and inc["order"]["number"] == "#727"
    assert "failed" in inc["evidence"][-1]["fact"]

    post_wc(client, shop_id, wc_order(status="processing", date_paid_gmt=paid, date_modified_gmt=paid))
    run_worker(app)
    [inc] = incidents(app)
    assert inc["status"] == "resolved"


def test_cancelled_unpaid_is_the_customers_and_cancelled_paid_is_the_shops(app, client):
    shop_id, _ = connect_woocommerce(app)
    post_wc(client, shop_id, wc_order(id=1, number="1", status="cancelled", date_paid_gmt=None))
    post_wc(client, shop_id, wc_order(id=2, number="2", status="cancelled"))
    run_worker(app)
    by_number = {i["order"]["number"]: i for i in incidents(app)}
    assert (by_number["#1"]["kind"], by_number["#1"]["responsibility"]) == ("order_cancelled", "customer")
    assert (by_number["#2"]["kind"], by_number["#2"]["responsibility"]) == ("order_cancelled", "shop")


def test_deleted_order_dismisses_its_open_incidents(app, client):
    shop_id, _ = connect_woocommerce(app)
    post_wc(client, shop_id, wc_order(status="failed", date_paid_gmt=None))
    run_worker(app)
    post_wc(client, shop_id, b'{"id":727}', topic="order.deleted")
    run_worker(app)
    [inc] = incidents(app)
    assert inc["status"] == "dismissed" and "deleted" in inc["evidence"][-1]["fact"]
    assert order(app, "727").deleted


def test_unknown_shop_is_404(app, client):
    assert post_wc(client, 999, wc_order()).status_code == 404
    assert deliveries(app) == []


def test_bad_or_missing_signature_is_401(app, client):
    shop_id, _ = connect_woocommerce(app)
    assert post_wc(client, shop_id, wc_order(), secret="wrong").status_code == 401
    assert post_wc(client, shop_id, wc_order(), headers={"X-WC-Webhook-Signature": None}).status_code == 401
    assert deliveries(app) == []


def test_malformed_json_and_missing_topic_are_400(app, client):
    shop_id, _ = connect_woocommerce(app)
    assert post_wc(client, shop_id, b'{"id": 727, "status": "fail').status_code == 400
    assert post_wc(client, shop_id, wc_order(), headers={"X-WC-Webhook-Topic": None}).status_code == 400
    assert deliveries(app) == []


def test_oversized_body_is_413(app, client):
    shop_id, _ = connect_woocommerce(app)
    big = b'{"id": 1, "pad": "' + b"x" * (5 * 1024 * 1024 + 10) + b'"}'
    assert post_wc(client, shop_id, big).status_code == 413


def test_the_same_delivery_three_times_is_processed_once(app, client):
    shop_id, _ = connect_woocommerce(app)
    payload = wc_order(status="failed", date_paid_gmt=None)
    # WooCommerce changes the Delivery-ID on every attempt; the body is what identifies the news.
    answers = [post_wc(client, shop_id, payload).get_json()["status"] for _ in range(3)]
    assert answers == ["accepted", "duplicate", "duplicate"]
    run_worker(app)
    assert count(app, WebhookDelivery) == 1 and len(incidents(app)) == 1


def test_older_delivery_arriving_late_is_ignored(app, client):
    shop_id, _ = connect_woocommerce(app)
    post_wc(client, shop_id, wc_order(status="processing", date_modified_gmt="2026-11-21T10:00:00"))
    run_worker(app)
    post_wc(client, shop_id, wc_order(status="failed", date_paid_gmt=None, date_modified_gmt="2026-11-20T10:00:00"))
    run_worker(app)
    assert order(app, "727").platform_status == "processing"
    assert incidents(app) == []


def test_a_refund_entry_without_a_total_does_not_stop_the_order(app, client):
    """Some refund plugins list a refund with no total: the order is still read, the refund counted as zero."""
    shop_id, _ = connect_woocommerce(app)
    body = wc_order(id=88, number="88", status="refunded", refunds=[{"id": 7, "reason": "goodwill"}])
    assert post_wc(client, shop_id, body).status_code == 200
    run_worker(app)
    [d] = deliveries(app)
    assert d.error is None and d.processed_at is not None
    assert order(app, "88").financial_status == "refunded"
