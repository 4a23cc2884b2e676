"""One delivery that cannot be processed never holds back the others of its batch."""

from __future__ import annotations

import logging

from jobs import ingest, use_app
from plugin.extensions import db
from plugin.intake.pipeline import MAX_ATTEMPTS
from plugin.storage.models import Shop
from tests.support.platforms import connect_shopify, connect_woocommerce, post_shopify, post_wc, shopify_order, wc_order
from tests.support.work import deliveries, incidents, run_worker


def _damage_timing(app, shop_id: int) -> None:
    """A stored policy whose timing is not an object (edited by hand): assessing its orders raises."""
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        shop.policy = {**shop.policy, "timing": "weekdays"}
        s.commit()


def test_an_order_that_breaks_assessment_is_set_aside_and_the_rest_of_the_batch_commits(app, client, caplog):
    bad_shop, _ = connect_shopify(app)
    good_shop, _ = connect_woocommerce(app)
    _damage_timing(app, bad_shop)
    assert post_shopify(client, shopify_order(cancel_reason="inventory")).status_code == 200
    assert post_wc(client, good_shop, wc_order(status="failed")).status_code == 200

    with caplog.at_level(logging.ERROR, logger="plugin.intake.pipeline"):
        run_worker(app)

    bad, good = deliveries(app)
    assert good.processed_at is not None and good.error is None
    [inc] = incidents(app)
    assert (inc["shop_id"], inc["kind"]) == (good_shop, "payment_failed")
    # The bad one is rolled back alone, keeps its error and its attempt, and waits for a later drain.
    assert bad.attempts == 1 and bad.processed_at is None
    assert bad.error.startswith("TypeError")
    assert any(f"delivery {bad.id}" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_a_failing_delivery_is_tried_once_per_drain_and_set_aside_after_the_last_attempt(app, client):
    bad_shop, _ = connect_shopify(app)
    _damage_timing(app, bad_shop)
    post_shopify(client, shopify_order(cancel_reason="inventory"))
    use_app(app)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        summary = ingest.drain()
        assert summary["failed"] == 1
        [d] = deliveries(app)
        assert d.attempts == attempt
        assert (d.processed_at is not None) == (attempt == MAX_ATTEMPTS)
    assert ingest.drain()["deliveries"] == 0
    [d] = deliveries(app)
    assert d.error.startswith("TypeError") and incidents(app) == []
