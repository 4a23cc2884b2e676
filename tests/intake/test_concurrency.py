"""More workers on more machines: concurrent drains share the inbox without doing anything twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from jobs import ingest, use_app
from plugin.extensions import db
from plugin.intake.pipeline import pending_deliveries, process_batch
from plugin.storage.models import Incident, Order
from tests.support.platforms import (
    connect_shopify,
    connect_woocommerce,
    post_shopify,
    post_wc,
    shopify_order,
    wc_order,
)
from tests.support.work import count, deliveries, incidents


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_workers_draining_at_once_process_every_delivery_once(app, client):
    connect_shopify(app)
    for order_id in range(40):
        for v, financial in enumerate(["pending", "voided", "paid"][: 1 + order_id % 3]):
            post_shopify(client, shopify_order(id=order_id, name=f"#{order_id}", cancelled_at=None,
                                               cancel_reason=None, financial_status=financial,
                                               updated_at=f"2026-11-20T1{v}:00:00Z"))
    use_app(app)
    results = []
    threads = [threading.Thread(target=lambda: results.append(ingest.drain(batch_size=7))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2
    # A delivery about an order the other drain had in hand is left to the drain it asks for.
    later = ingest.drain()
    assert sum(r["deliveries"] for r in [*results, later]) == sum(1 + i % 3 for i in range(40))
    assert all(d.attempts == 1 for d in deliveries(app))  # each processed once
    assert all(d.processed_at is not None and d.error is None for d in deliveries(app))
    assert count(app, Order) == 40
    by_status = {}
    for i in incidents(app):
        if i["kind"] != "payment_failed":
            continue  # the sample order was placed years ago: paid ones are also (rightly) late to ship
        by_status.setdefault(i["status"], set()).add(i["order"]["number"])
    # order i has versions pending(, voided(, paid)): orders left voided have an open incident; orders
    # paid in the end have none open (resolved if a batch saw them voided first, else never opened).
    assert by_status.get("open") == {f"#{i}" for i in range(40) if i % 3 == 1}
    assert by_status.get("resolved", set()) <= {f"#{i}" for i in range(40) if i % 3 == 2}


def test_the_database_refuses_a_second_open_incident_of_one_kind(app, client):
    connect_shopify(app)
    post_shopify(client, shopify_order(cancel_reason="declined"))
    use_app(app)
    ingest.drain()
    with db(app).session() as s:
        first = s.query(Incident).one()
        s.add(Incident(shop_id=first.shop_id, order_id=first.order_id, kind=first.kind, responsibility="shop",
                       status="open", evidence=[], opened_at=first.opened_at))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        first = s.query(Incident).one()
        first.status = "resolved"
        s.add(Incident(shop_id=first.shop_id, order_id=first.order_id, kind=first.kind, responsibility="shop",
                       status="open", evidence=[], opened_at=first.opened_at))
        s.commit()  # a resolved incident does not block a new open one
    assert count(app, Incident) == 2


def test_a_shops_backlog_does_not_keep_another_shops_new_deliveries_waiting(app, client):
    connect_shopify(app)
    wc_shop, _ = connect_woocommerce(app)
    for order_id in range(30):  # a bulk import on one store
        post_shopify(client, shopify_order(id=order_id, name=f"#{order_id}"))
    for order_id in range(3):  # then three new orders on another
        post_wc(client, wc_shop, wc_order(id=900 + order_id, number=str(900 + order_id)))
    use_app(app)

    first = ingest.drain(batch_size=10, max_seconds=0)  # one batch, then it hands over to the next drain
    assert first["deliveries"] == 10
    with db(app).session() as s:
        served = {shop: n for shop, n in s.execute(select(Order.shop_id, func.count()).group_by(Order.shop_id))}
    assert served[wc_shop] == 3  # all three in the first batch, beside the other shop's seven oldest
    assert sum(served.values()) == 10
    assert ingest.drain(batch_size=10)["deliveries"] == 23
    assert count(app, Order) == 33


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_second_worker_takes_the_next_batch_while_the_first_holds_its_own(app, client):
    connect_shopify(app)
    for order_id in range(25):
        post_shopify(client, shopify_order(id=order_id, name=f"#{order_id}"))
    with db(app).session() as first, db(app).session() as second:
        mine = pending_deliveries(first, 10)  # locked until this transaction ends
        theirs = pending_deliveries(second, 10)
        rest = pending_deliveries(second, 10, skip=[d.id for d in theirs])
        assert (len(mine), len(theirs), len(rest)) == (10, 10, 5)
        assert not {d.id for d in mine} & {d.id for d in theirs + rest}
        first.rollback()
        second.rollback()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_delivery_about_an_order_another_worker_has_in_hand_is_left_to_a_later_batch(app, client):
    connect_shopify(app)
    for v, financial in enumerate(["pending", "voided"]):
        post_shopify(client, shopify_order(id=77, name="#77", cancelled_at=None, cancel_reason=None,
                                           financial_status=financial, updated_at=f"2026-11-20T1{v}:00:00Z"))
    now = datetime.now(UTC)
    with db(app).session() as first, db(app).session() as second:
        second.execute(text("SET lock_timeout = '2s'"))  # waiting would be the defect: fail instead of hanging
        [a] = pending_deliveries(first, 1)
        process_batch(first, [a], now)  # order #77 is this worker's until it commits
        [b] = pending_deliveries(second, 1)
        done = process_batch(second, [b], now)
        assert (done.deliveries, done.deferred, b.processed_at, b.attempts) == (0, [b.id], None, 0)
        second.commit()
        first.commit()
    use_app(app)
    assert ingest.drain()["deliveries"] == 1  # the next batch takes it
    assert [(d.attempts, d.processed_at is not None) for d in deliveries(app)] == [(1, True), (1, True)]
    assert [(i["kind"], i["status"]) for i in incidents(app) if i["kind"] == "payment_failed"] == [
        ("payment_failed", "open")]
