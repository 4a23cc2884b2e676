"""Money moves exactly once: refunds and coupons through local fakes of both platforms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

import connectors
from jobs import compensate, sweep, use_app
from jobs.compensate import request_for
from plugin.compensation.ledger import approve, cancel
from plugin.extensions import config, db, vault
from plugin.shops.tokens import shop_access
from plugin.storage.models import Compensation, Order
from simulated.woocommerce import FakeWooCommerce
from tests.support.cli import redress
from tests.support.platforms import connect_woocommerce, post_shopify, post_wc, shopify_order, wc_order
from tests.support.work import incidents, run_worker

ORDER_ID = "820982911946154508"
CUSTOMER = "gid://shopify/Customer/115310627314723954"
NOW = datetime.now(UTC).replace(microsecond=0)
LONG_AGO = (NOW - timedelta(days=10)).isoformat()
PAID_LONG_AGO = dict(cancelled_at=None, cancel_reason=None, financial_status="paid", processed_at=LONG_AGO,
                     created_at=LONG_AGO)


@pytest.fixture
def shopify(shopify):
    """The connected fake store, with the sample order payable in it."""
    shopify.add_payable_order(ORDER_ID, total="404.95", shipping="10.00")
    return shopify


def comps(app) -> list[Compensation]:
    with db(app).session() as s:
        return list(s.execute(select(Compensation).order_by(Compensation.id)).scalars())


def late_wc_order(**kw) -> dict:
    old = (NOW - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S")
    return wc_order(date_created_gmt=old, date_paid_gmt=old, date_modified_gmt=old, meta_data=[], **kw)


def test_a_shop_fault_on_shopify_gets_one_shipping_refund_and_one_10_percent_coupon(app, client, shopify):
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)

    [refund] = shopify.refunds_of(ORDER_ID)
    assert refund["input"]["shipping"] == {"amount": "10.00"} and refund["amount"] == Decimal("10.00")
    assert refund["input"]["notify"] is True
    [discount] = shopify.discounts.values()
    d = discount["input"]
    assert d["code"].startswith("SORRY-") and d["usageLimit"] == 1 and d["appliesOncePerCustomer"] is True
    assert d["customerGets"]["value"] == {"percentage": 0.1}
    assert d["context"] == {"customers": {"add": [CUSTOMER]}}
    ends = datetime.fromisoformat(d["endsAt"].replace("Z", "+00:00"))
    assert timedelta(days=90) <= ends - NOW < timedelta(days=90, minutes=10)

    [inc] = incidents(app)
    assert (inc["kind"], inc["responsibility"], inc["status"]) == ("fulfillment_late", "shop", "open")
    by_action = {c["action"]: c for c in inc["compensations"]}
    assert by_action["refund_shipping"] == {**by_action["refund_shipping"], "amount": "10.00", "currency": "USD",
                                            "state": "issued", "platform_ref": refund["id"]}
    assert by_action["coupon_percent"]["state"] == "issued"
    assert by_action["coupon_percent"]["platform_ref"] == discount["id"]


def test_the_same_webhook_three_times_and_repeated_sweeps_move_money_once(app, client, shopify):
    payload = shopify_order(**PAID_LONG_AGO)
    for i in range(3):
        post_shopify(client, payload, topic="orders/paid", webhook_id=f"same-{i % 2}")
        post_shopify(client, {**payload, "note": f"edit {i}"}, topic="orders/updated")
        run_worker(app)
        sweep.run(now=NOW + timedelta(days=1 + i))
        run_worker(app)
    assert len(shopify.refunds_of(ORDER_ID)) == 1 and len(shopify.discounts) == 1
    assert [c.state for c in comps(app)] == ["issued", "issued"]


def test_a_refund_whose_answer_was_lost_is_found_not_made_again(app, client, shopify):
    shopify.failures = [("RedressRefund", "timeout_after")]
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)  # the refund is made, but its answer never arrives: the job fails and will retry
    shopify.wait_idle()  # the store finishes its work after the client gave up
    refund = next(c for c in comps(app) if c.action == "refund_shipping")
    assert refund.state == "issuing" and "ReadTimeout" in refund.error
    assert len(shopify.refunds_of(ORDER_ID)) == 1

    assert compensate.issue(refund.id) == "issued"  # what RQ's retry (or the sweep) runs
    assert len(shopify.refunds_of(ORDER_ID)) == 1
    [issued] = [c for c in comps(app) if c.action == "refund_shipping"]
    assert issued.platform_ref == shopify.refunds_of(ORDER_ID)[0]["id"]


def test_a_worker_killed_between_the_call_and_the_commit_does_not_refund_twice(app, client, shopify):
    shopify.failures = [("RedressRefund", "500")] * 50  # keep the worker from issuing it itself
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)
    shopify.failures = []
    with db(app).session() as s:
        comp = s.execute(select(Compensation).where(Compensation.action == "refund_shipping")).scalar_one()
        order = s.execute(select(Order)).scalar_one()
        comp.incident  # noqa: B018 - load it while the session is open
        # What the killed worker did: committed `issuing`, then the platform made the refund, then it died.
        assert comp.state == "issuing"
        shop = order.shop
        connectors.get("shopify").issue(shop_access(shop, vault(app), config(app).shopify_api_version),
                                        request_for(comp, order))
    assert len(shopify.refunds_of(ORDER_ID)) == 1
    assert compensate.issue(comp.id) == "issued"
    assert len(shopify.refunds_of(ORDER_ID)) == 1


def test_a_storm_of_429s_and_throttling_is_waited_out(app, client, shopify):
    from connectors.http import Retry

    shopify.failures = [("RedressCoupon", "429"), ("RedressCoupon", "throttled"), ("RedressCoupon", "429")]
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)  # one attempt per job run in tests: the coupon job fails and waits for its retry
    coupon = next(c for c in comps(app) if c.action == "coupon_percent")
    assert coupon.state == "issuing" and len(shopify.discounts) == 0
    sleeps = []
    assert compensate.issue(coupon.id, retry=Retry(attempts=6, sleep=sleeps.append, timeout=2.0)) == "issued"
    assert len(shopify.discounts) == 1 and len(sleeps) == 2


def test_nothing_left_to_refund_fails_with_the_platforms_words(app, client, shopify):
    shopify.payable[f"gid://shopify/Order/{ORDER_ID}"]["shipping_refunded"] = Decimal("10.00")
    post_shopify(client, shopify_order(**PAID_LONG_AGO), topic="orders/paid")
    run_worker(app)
    refund = next(c for c in comps(app) if c.action == "refund_shipping")
    assert refund.state == "failed" and refund.error == "nothing is left to refund for shipping"
    [inc] = incidents(app)
    assert {c["action"]: c["state"] for c in inc["compensations"]} == {"refund_shipping": "failed",
                                                                        "coupon_percent": "issued"}


def test_a_lost_parcel_waits_for_approval_then_is_refunded_once(app, client, shopify):
    lost_parcel(client)
    run_worker(app)
    [inc] = [i for i in incidents(app) if i["kind"] == "lost"]
    assert inc["status"] == "awaiting_approval"
    [waiting] = [c for c in comps(app) if c.action == "refund_percent"]
    assert waiting.state == "awaiting_approval" and waiting.amount == Decimal("404.95")
    assert shopify.refunds_of(ORDER_ID) == []

    with db(app).session() as s:
        approve(s, s.get(Compensation, waiting.id))
        s.commit()
    assert compensate.issue(waiting.id) == "issued"
    assert [r["amount"] for r in shopify.refunds_of(ORDER_ID)] == [Decimal("404.95")]
    with db(app).session() as s, pytest.raises(ValueError, match="only planned or waiting"):
        cancel(s, s.get(Compensation, waiting.id))


def test_a_shop_fault_on_woocommerce_gets_one_refund_and_one_coupon_for_that_customer(app, client, woo):
    order = late_wc_order(total="129.35")  # large enough for both under the 30 % per-order cap
    woo.add(order)
    post_wc(client, woo.shop_id, order)
    run_worker(app)
    [refund] = woo.refunds[727]
    assert refund["amount"] == "10.00" and refund["request"]["api_restock"] is False
    assert refund["request"]["api_refund"] is True
    assert refund["meta_data"][0]["key"] == "_redress_idempotency_key"
    [coupon] = woo.coupons.values()
    assert coupon["code"].startswith("sorry-") and coupon["discount_type"] == "percent" and coupon["amount"] == "10"
    assert coupon["usage_limit"] == 1 and coupon["email_restrictions"] == ["john.doe@example.com"]
    [inc] = incidents(app)
    assert {c["action"]: (c["state"], c["platform_ref"]) for c in inc["compensations"]} == {
        "refund_shipping": ("issued", f"refund:{refund['id']}"), "coupon_percent": ("issued", f"coupon:{coupon['id']}")}


def test_a_woocommerce_refund_that_timed_out_after_succeeding_is_found_by_its_key(app, client, woo):
    order = late_wc_order(total="129.35")
    woo.add(order)
    woo.failures = [("refunds", "timeout_after"), ("coupons", "timeout_after")]
    post_wc(client, woo.shop_id, order)
    run_worker(app)
    assert len(woo.refunds[727]) == 1 and len(woo.coupons) == 1
    for c in comps(app):
        assert c.state == "issuing"
        assert compensate.issue(c.id) == "issued"
    assert len(woo.refunds[727]) == 1 and len(woo.coupons) == 1


def lost_parcel(client):
    from tests.support.platforms import shopify_sample

    paid = NOW - timedelta(days=30)
    post_shopify(client, shopify_order(**{**PAID_LONG_AGO, "processed_at": paid.isoformat()}), topic="orders/paid")
    f = shopify_sample("fulfillments_update")
    f.update(status="success", shipment_status="in_transit", created_at=(paid + timedelta(days=1)).isoformat(),
             updated_at=(paid + timedelta(days=1)).isoformat())
    post_shopify(client, f, topic="fulfillments/update")


def test_a_deleted_order_cancels_what_was_still_waiting(app, client, shopify):
    lost_parcel(client)
    run_worker(app)
    [waiting] = [c for c in comps(app) if c.action == "refund_percent"]
    assert waiting.state == "awaiting_approval"
    post_shopify(client, {"id": int(ORDER_ID)}, topic="orders/delete")
    run_worker(app)
    assert all(i["status"] == "dismissed" for i in incidents(app))
    [cancelled] = [c for c in comps(app) if c.action == "refund_percent"]
    assert cancelled.state == "cancelled"
    assert shopify.refunds_of(ORDER_ID) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_merchant_approves_or_cancels_from_the_command_line(app, client, shopify):
    def cli(*args):
        return redress(app, "compensations", *args, check=False)

    lost_parcel(client)
    run_worker(app)
    [waiting] = [c for c in comps(app) if c.state == "awaiting_approval"]
    approved = cli("approve", str(waiting.id))
    assert approved.exit_code == 0 and '"state": "planned"' in approved.stdout
    run_worker(app)  # the approval enqueued the refund
    assert [r["amount"] for r in shopify.refunds_of(ORDER_ID)] == [Decimal("404.95")]
    again = cli("cancel", str(waiting.id))
    assert again.exit_code == 1 and "only planned or waiting ones can be cancelled" in again.stderr
    missing = cli("approve", "999")
    assert missing.exit_code == 1 and "no compensation 999" in missing.stderr
    assert cli("approve").exit_code == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_store_that_refunds_by_hand_gets_refunds_recorded_without_the_gateway(app, client, httpserver):
    fake = FakeWooCommerce(httpserver)
    shop_id, _ = connect_woocommerce(app, url=fake.url, api_refund=False)
    use_app(app)
    order = late_wc_order(total="129.35")
    fake.add(order)
    post_wc(client, shop_id, order)
    run_worker(app)
    [refund] = fake.refunds[727]
    assert refund["request"]["api_refund"] is False and refund["refunded_payment"] is False


def test_the_lock_of_a_run_a_dead_worker_left_has_expired_when_the_sweep_resumes_it():
    """A run lasts at most its job's time limit; its lock a little longer; the sweep resumes a compensation
    left `issuing` only after that, so the resumed run is not turned away as "busy" for another round."""
    from jobs.compensate import LOCK_SECONDS
    from plugin.compensation.ledger import RESUME_AFTER
    from plugin.storage.queue import COMPENSATE

    assert COMPENSATE.timeout < LOCK_SECONDS < RESUME_AFTER.total_seconds()
