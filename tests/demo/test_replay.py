"""The demo's day through the real pipeline on both databases: connected to the simulated stores, every
delivery signed and accepted, every story's incident opened with its verdict, a message to each customer,
the compensations made in the stores, the Correos crisis found; a replay is all duplicates and changes
nothing; a second run with new stores finds the demo's shops again."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from jobs import crises, use_app
from plugin.demo.day import stories
from plugin.demo.payloads import deliveries
from plugin.demo.replay import figures, headers_for
from plugin.demo.shops import connect
from plugin.demo.stores import seed, start_stores
from plugin.extensions import db
from plugin.storage.models import Compensation, Crisis, Incident, Message, Shop
from plugin.vocabulary import Audience, CompensationState
from tests.support.demo_day import expected_incidents, order_incidents, story_key
from tests.support.work import run_worker


@pytest.fixture
def stores():
    running = start_stores()
    yield running
    running.stop()


def post_all(client, shops, plan) -> Counter:
    answers: Counter = Counter()
    for d in plan:
        path, headers = headers_for(d, shops)
        r = client.post(path, data=d.body, headers={"Content-Type": "application/json", **headers})
        assert r.status_code == 200, (d.story.number, r.get_data(as_text=True))
        answers[r.get_json()["status"]] += 1
    return answers


def day_through(app, client, stores):
    use_app(app)
    shops = connect(app, stores)
    seed(stores, stories(), shops.anchor)
    plan = deliveries(stories(), shops.anchor)
    answers = post_all(client, shops, plan)
    run_worker(app)
    crises.detect()
    run_worker(app)
    return shops, plan, answers


def test_the_day_opens_every_incident_tells_every_customer_and_finds_the_crisis(app, client, stores):
    shops, plan, answers = day_through(app, client, stores)
    assert answers == {"accepted": len(plan)}
    found, expected = order_incidents(app), expected_incidents(stories())
    for story in stories():
        key = story_key(story)
        assert found.get(key, []) == expected.get(key, []), story.number
    with db(app).session() as s:
        told = Counter(m.incident_id for m in s.execute(select(Message).where(
            Message.audience == Audience.CUSTOMER)).scalars())
        incident_ids = set(s.execute(select(Incident.id)).scalars())
        assert set(told) == incident_ids and set(told.values()) == {1}  # every customer told, once
        (crisis,) = s.execute(select(Crisis)).scalars()
        assert crisis.cause == {"type": "carrier_region", "carrier": "Correos", "country": "ES", "region": "PO"}
        assert len(crisis.incidents) == 12
        comps = list(s.execute(select(Compensation)).scalars())
    issued = Counter(str(c.action).split("_")[0] for c in comps if c.state == CompensationState.ISSUED)
    assert issued["refund"] >= 4 and issued["coupon"] >= 6
    assert [c.state for c in comps if c.state not in (CompensationState.ISSUED,)] == [
        CompensationState.AWAITING_APPROVAL]  # the lost parcel's full refund waits for the merchant
    refunds = sum(len(o["refunds"]) for o in stores.shopify.payable.values()) + sum(
        len(r) for r in stores.woocommerce.refunds.values())
    coupons = len(stores.shopify.discounts) + len(stores.woocommerce.coupons)
    assert (refunds, coupons) == (issued["refund"], issued["coupon"])  # the stores made what the ledger says


def test_a_replay_is_all_duplicates_and_changes_nothing(app, client, stores):
    shops, plan, _ = day_through(app, client, stores)
    before = figures(app, shops, stores)
    again = start_stores()
    try:
        shops_again = connect(app, again)
        assert (shops_again.shopify_id, shops_again.woocommerce_id, shops_again.anchor) == (
            shops.shopify_id, shops.woocommerce_id, shops.anchor)
        assert not shops_again.created
        replayed = deliveries(stories(), shops_again.anchor)
        assert post_all(client, shops_again, replayed) == {"duplicate": len(plan)}
        run_worker(app)
        crises.detect()
        run_worker(app)
        after = figures(app, shops_again, stores)
    finally:
        again.stop()
    assert after == before
    assert again.shopify.requests == [] and not again.woocommerce.refunds  # no money moved again


def test_the_demo_never_takes_over_a_real_shop_of_its_domain(app, stores):
    from plugin.demo.day import SHOPIFY_DOMAIN
    from plugin.demo.errors import DemoError
    from tests.support.platforms import connect_shopify

    connect_shopify(app, domain=SHOPIFY_DOMAIN)
    with pytest.raises(DemoError, match="not made by the demo"):
        connect(app, stores)
    with db(app).session() as s:
        assert [shop.admin_url for shop in s.execute(select(Shop)).scalars()] == [
            "http://127.0.0.1:9/admin/api/2026-04/graphql.json"]
