"""Any JSON object, for any topic, either normalizes into facts the rest of the pipeline can use or is
refused with a PayloadError that says why; never another exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import shopify, woocommerce
from connectors.base import PayloadError
from connectors.shopify import admin as shopify_admin
from connectors.shopify import webhooks as shopify_webhooks
from connectors.woocommerce import webhooks as woocommerce_webhooks
from plugin.incidents.detect import assess
from plugin.orders.facts import OrderFacts
from plugin.orders.merge import merge
from plugin.orders.timing import TimingPolicy
from tests.support.hostile import budget, keyed_objects, paths, sample, spoiled

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

RECONCILED_NODE = {
    "id": "gid://shopify/Order/1001", "legacyResourceId": "1001", "name": "#1001", "email": "ana@example.com",
    "createdAt": "2026-11-20T10:00:00Z", "processedAt": "2026-11-20T10:00:00Z", "updatedAt": "2026-11-21T10:00:00Z",
    "cancelledAt": None, "cancelReason": None, "displayFinancialStatus": "PAID",
    "displayFulfillmentStatus": "FULFILLED", "currencyCode": "USD", "customerLocale": "en", "requiresShipping": True,
    "tags": ["vip"], "paymentGatewayNames": ["shopify_payments"],
    "totalPriceSet": {"shopMoney": {"amount": "59.00", "currencyCode": "USD"}},
    "totalShippingPriceSet": {"shopMoney": {"amount": "5.00", "currencyCode": "USD"}},
    "customer": {"id": "gid://shopify/Customer/7", "firstName": "Ana", "lastName": "Diaz"},
    "shippingAddress": {"countryCodeV2": "US"},
    "refunds": [{"legacyResourceId": "9", "createdAt": "2026-11-21T09:00:00Z", "note": "sorry",
                 "totalRefundedSet": {"shopMoney": {"amount": "5.00", "currencyCode": "USD"}}}],
    "fulfillments": [{
        "id": "gid://shopify/Fulfillment/55", "legacyResourceId": "55", "status": "SUCCESS",
        "displayStatus": "IN_TRANSIT", "createdAt": "2026-11-20T12:00:00Z", "updatedAt": "2026-11-21T08:00:00Z",
        "inTransitAt": "2026-11-20T15:00:00Z", "deliveredAt": None, "estimatedDeliveryAt": "2026-11-25T00:00:00Z",
        "trackingInfo": [{"company": "UPS", "number": "1Z999", "url": "https://ups.example/1Z999"}],
        "events": {"nodes": [{"id": "gid://shopify/FulfillmentEvent/551", "status": "IN_TRANSIT",
                              "happenedAt": "2026-11-21T08:00:00Z", "message": "scan",
                              "estimatedDeliveryAt": None}]},
    }],
}

# (connector, topic, real document) for every topic a delivery can name.
SHOPIFY_CASES = [
    *[("orders_create.json", t) for t in sorted(shopify_webhooks.ORDER_TOPICS | {"orders/delete"})],
    ("fulfillments_update.json", "fulfillments/update"), ("fulfillments_update.json", "fulfillments/create"),
    ("fulfillment_events_create.json", "fulfillment_events/create"), ("refunds_create.json", "refunds/create"),
    ("customers_data_request.json", "customers/data_request"), ("customers_redact.json", "customers/redact"),
    ("shop_redact.json", "shop/redact"),
]
WC_CASES = [(name, t) for name in ("synthetic_webhook_order_updated.body.json", "rest-docs_order_retrieve.json")
            for t in sorted(woocommerce_webhooks.ORDER_TOPICS | {"order.deleted"})]
DOCUMENTS = ([(shopify, topic, sample("shopify", name)) for name, topic in SHOPIFY_CASES]
             + [(shopify, shopify_webhooks.RECONCILED, RECONCILED_NODE)]
             + [(woocommerce, topic, sample("woocommerce", name)) for name, topic in WC_CASES])
KEYS = sorted({str(p[-1]) for _, _, doc in DOCUMENTS for p in paths(doc) if isinstance(p[-1], str)})
ALL_TOPICS = sorted({(c.name, t) for c, t, _ in DOCUMENTS} | {("shopify", "app/uninstalled"),
                                                              ("woocommerce", "order.weird")})


def understood_or_refused(connector, topic: str, payload: dict) -> None:
    """The property: facts that survive storage and assessment, or a PayloadError with a short reason."""
    try:
        if connector.shop_event(topic, payload) is not None:
            return
        changes = connector.normalize(topic, payload, NOW)
    except PayloadError as exc:
        assert 0 < len(str(exc)) <= 300, "a refusal says why, briefly"
        return
    for c in changes:
        facts = merge(None, c)
        stored = json.loads(json.dumps(facts.to_json(), allow_nan=False))
        assert OrderFacts.from_json(stored).to_json() == facts.to_json()
        assess(facts, TimingPolicy(), NOW, "fuzz")


@pytest.mark.parametrize(("connector", "topic", "doc"), DOCUMENTS,
                         ids=[f"{c.name}:{t}" for c, t, _ in DOCUMENTS])
@settings(max_examples=budget(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_real_delivery_with_any_value_spoiled_is_understood_or_refused(connector, topic, doc, data):
    understood_or_refused(connector, topic, data.draw(spoiled(doc, changes=3)))


@settings(max_examples=budget(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(ALL_TOPICS), payload=keyed_objects(KEYS))
def test_any_json_object_for_any_topic_is_understood_or_refused(case, payload):
    platform, topic = case
    understood_or_refused({"shopify": shopify, "woocommerce": woocommerce}[platform], topic, payload)


def test_the_reconciled_node_is_a_real_order():
    """The hand-written Admin API node above really normalizes (so its spoiled versions reach deep)."""
    facts = shopify_admin.order_facts(RECONCILED_NODE)
    assert (facts.order_id, facts.total, facts.shipments[0].carrier) == ("1001", 59, "UPS")


@pytest.mark.parametrize("value", ["1e999999999", "-1e999999999", "1e14", "-100000000000000", 10**4000])
def test_an_amount_too_large_to_be_money_is_refused(value):
    from connectors.base import money

    with pytest.raises(PayloadError, match="not an amount"):
        money(value)


@pytest.mark.parametrize(("value", "kept"), [("-1e-999999999", "0.0000"), ("99999999999999.99", "99999999999999.99"),
                                             ("0", "0"), ("12.345678", "12.3457")])
def test_an_amount_is_kept_to_what_the_money_columns_hold(value, kept):
    from connectors.base import money

    assert str(money(value)).lstrip("-") == kept
