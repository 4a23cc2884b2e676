"""Properties of merging over varied delivery orders: the newest news wins, whatever order it arrives in."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import shopify, woocommerce
from plugin.orders.merge import merge
from tests.support.platforms import shopify_order, wc_order

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
statuses = st.sampled_from(["pending", "paid", "voided", "authorized", "refunded", "partially_paid"])


@settings(max_examples=100, deadline=None)
@given(versions=st.lists(st.tuples(statuses, st.booleans()), min_size=1, max_size=5), data=st.data())
def test_whatever_the_delivery_order_the_newest_order_payload_wins(versions, data):
    base = datetime(2026, 11, 1, tzinfo=UTC)
    changes = []
    for i, (financial, cancelled) in enumerate(versions):
        p = shopify_order(financial_status=financial, updated_at=(base + timedelta(hours=i)).isoformat(),
                          cancelled_at=(base + timedelta(hours=i)).isoformat() if cancelled else None,
                          cancel_reason="declined" if cancelled else None)
        changes.extend(shopify.normalize("orders/updated", p, NOW))
    order = data.draw(st.permutations(changes))
    facts = None
    for c in order:
        facts = merge(facts, c)
    newest = changes[-1].order
    assert facts.financial_status == newest.financial_status
    assert facts.cancelled_at == newest.cancelled_at
    # Re-applying any delivery (a duplicate) changes nothing.
    assert merge(facts, data.draw(st.sampled_from(changes))).to_json() == facts.to_json()


def test_tracking_news_before_the_order_itself_is_kept():
    import json

    from tests.support.platforms import FIXTURES

    event = json.loads((FIXTURES / "shopify" / "fulfillment_events_create.json").read_text())
    fulfillment = json.loads((FIXTURES / "shopify" / "fulfillments_update.json").read_text())
    order = shopify_order(cancelled_at=None, cancel_reason=None, financial_status="paid")
    parts = [shopify.normalize("fulfillment_events/create", event, NOW)[0],
             shopify.normalize("fulfillments/update", fulfillment, NOW)[0],
             shopify.normalize("orders/paid", order, NOW)[0]]
    results = set()
    for perm in itertools.permutations(parts):
        facts = None
        for c in perm:
            facts = merge(facts, c)
        s = facts.shipments[0]
        results.add((s.status, s.carrier, len(s.events), facts.complete))
    assert results == {("in_transit", "UPS", 1, True)}


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_a_woocommerce_stand_in_shipment_gives_way_to_tracking_whatever_the_delivery_order(data):
    """`completed` with no tracking plugin data, then the tracking meta: the stand-in never outlives it."""
    tracked = wc_order(status="completed", date_modified_gmt="2026-11-21T10:00:00")
    bare = wc_order(status="completed", date_modified_gmt="2026-11-20T10:00:00",
                    date_completed_gmt="2026-11-20T10:00:00")
    bare["meta_data"] = [m for m in bare["meta_data"] if m["key"] != "_wc_shipment_tracking_items"]
    changes = [c for p in (bare, tracked) for c in woocommerce.normalize("order.updated", p, NOW)]
    facts = None
    duplicates = data.draw(st.lists(st.sampled_from(changes), max_size=3))
    for c in [*data.draw(st.permutations(changes)), *duplicates]:
        facts = merge(facts, c)
    assert [(s.id, s.tracking_number) for s in facts.shipments] == [
        ("7f4978c390ee633c6294ae0f258656f9", "9400111899560000000000")]
