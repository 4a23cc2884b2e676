"""Properties of normalization over varied payloads: every field value is understood or explained."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import shopify, woocommerce
from connectors.base import PayloadError
from connectors.shopify import webhooks as shopify_webhooks
from plugin.incidents.detect import assess
from plugin.orders.facts import OrderFacts
from plugin.orders.merge import merge
from plugin.orders.timing import TimingPolicy
from tests.support.platforms import shopify_order, wc_order

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(shopify_order().keys())), value=json_values)
def test_shopify_normalize_accepts_or_explains_any_field_value(field, value):
    payload = shopify_order(**{field: value})
    try:
        changes = shopify.normalize("orders/updated", payload, NOW)
    except PayloadError:
        return
    for c in changes:
        assess(merge(None, c), TimingPolicy(), NOW, "test")
        OrderFacts.from_json(merge(None, c).to_json())


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(sorted(wc_order().keys())), value=json_values)
def test_woocommerce_normalize_accepts_or_explains_any_field_value(field, value):
    payload = wc_order(**{field: value})
    try:
        changes = woocommerce.normalize("order.updated", payload, NOW)
    except PayloadError:
        return
    for c in changes:
        assess(merge(None, c), TimingPolicy(), NOW, "test")


def test_every_shopify_path_marks_a_fulfillment_without_tracking_number_or_status_as_untracked():
    from connectors.shopify import admin as shopify_admin

    bare = dict(id=1, order_id=2, status="success", shipment_status=None, created_at="2026-11-20T10:00:00Z")
    assert shopify_webhooks.shipment(bare).shipped_at is not None and not shopify_webhooks.shipment(bare).tracked
    assert shopify_webhooks.shipment({**bare, "tracking_number": "1Z9"}).tracked
    assert shopify_webhooks.shipment({**bare, "shipment_status": "in_transit"}).tracked
    node = dict(legacyResourceId="1", status="SUCCESS", displayStatus="FULFILLED", createdAt="2026-11-20T10:00:00Z",
                trackingInfo=[], events={"nodes": []})
    assert shopify_admin._shipment(node).shipped_at is not None and not shopify_admin._shipment(node).tracked
    assert shopify_admin._shipment({**node, "trackingInfo": [{"company": "UPS", "number": "1Z9"}]}).tracked
