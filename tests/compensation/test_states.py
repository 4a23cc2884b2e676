"""A compensation's state is the truth a merchant acts on: unknown is not failed, refused is failed at once,
decisions never overwrite each other, coupons are valid from their issue, and the worker never waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import update

from connectors.http import PlatformError
from jobs import compensate, use_app
from plugin.app import create_app
from plugin.compensation.ledger import LedgerError, approve, cancel, plan_for_incident, stuck
from plugin.extensions import db, redis_conn
from plugin.storage.models import Compensation
from plugin.storage.queue import enqueue_compensation, queue
from simulated.shopify import FakeShopify
from tests.conftest import make_config
from tests.support.cli import redress
from tests.support.ledger import late_order, ledger, set_policy, shop_rule
from tests.support.platforms import connect_shopify
from tests.support.work import incidents, run_worker

COUPON = {"action": "coupon_percent", "percent": "10", "valid_days": 90}
REFUND = {"action": "refund_amount", "amount": "8.00"}


def planned(app, fake, *actions, **rule) -> tuple[str, list[int]]:
    set_policy(app, fake.shop_id, shop_rule(*actions, **rule))
    order_id, ids = late_order(app, fake.shop_id, Decimal("100.00"), Decimal("10.00"))
    fake.add_payable_order(order_id, total="100.00", shipping="10.00")
    return order_id, ids


def run(comp_id: int) -> str:
    """One job run, as the queue makes it: a transient failure raises for the queue to retry later."""
    try:
        return compensate.issue(comp_id)
    except PlatformError:
        return "retry"


def test_a_coupon_that_waited_for_approval_is_valid_from_its_approval(app, shopify):
    _, [comp_id] = planned(app, shopify, COUPON, approval="always")
    with db(app).session() as s:  # it waited 100 days for the merchant
        s.execute(update(Compensation).values(created_at=datetime.now(UTC) - timedelta(days=100)))
        s.commit()
        approve(s, s.get(Compensation, comp_id))
        s.commit()
    assert compensate.issue(comp_id) == "issued"
    [discount] = shopify.discounts.values()
    starts, ends = (datetime.fromisoformat(discount["input"][k].replace("Z", "+00:00")) for k in ("startsAt", "endsAt"))
    now = datetime.now(UTC)
    assert now - timedelta(minutes=5) < starts <= now and ends - starts == timedelta(days=90)
    [inc] = incidents(app)
    [c] = inc["compensations"]
    assert c["expires_at"] == ends.strftime("%Y-%m-%dT%H:%M:%SZ") and c["code"] == discount["input"]["code"]


def test_an_unknown_outcome_stays_issuing_and_the_store_is_asked_until_it_is_known(app, shopify):
    order_id, [comp_id] = planned(app, shopify, REFUND)
    shopify.failures = [("RedressRefund", "timeout_after")]  # the refund is made, its answer is lost
    assert run(comp_id) == "retry"
    shopify.wait_idle()
    shopify.failures = [("RedressRefunds", "500")] * 30  # and then the store cannot even be asked, for hours
    for _ in range(10):
        assert run(comp_id) == "retry"
    [comp] = ledger(app, [comp_id])
    assert comp.state == "issuing" and comp.attempts == 11
    assert comp.error.startswith("outcome not known yet: ") and "HTTP 500" in comp.error
    [inc] = incidents(app)
    assert inc["status"] == "compensating"
    assert inc["compensations"][0]["error"] == comp.error and inc["compensations"][0]["attempts"] == 11

    shopify.failures = []
    asked = len(shopify.requests)
    assert run(comp_id) == "issued"
    assert "RedressRefunds(" in shopify.requests[asked]["query"]  # asked by its key first, and found
    assert [r["amount"] for r in shopify.refunds_of(order_id)] == [Decimal("8.00")]
    [comp] = ledger(app, [comp_id])
    assert comp.error is None and comp.platform_ref == shopify.refunds_of(order_id)[0]["id"]


def test_an_unconfirmed_compensation_still_counts_against_the_cap(app, shopify):
    _, [first] = planned(app, shopify, REFUND)
    shopify.failures = [("RedressRefund", "500")] * 10
    for _ in range(9):
        run(first)
    set_policy(app, shopify.shop_id, shop_rule(REFUND, {"action": "coupon_amount", "amount": "30", "valid_days": 30}))
    with db(app).session() as s:
        comp = s.get(Compensation, first)
        assert comp.state == "issuing"
        order = comp.incident.order
        [coupon] = plan_for_incident(s, comp.incident, order, order.shop, datetime.now(UTC))
        assert coupon.value == Decimal("22.00")  # 30 % of 100.00, less the 8.00 still being issued


def test_a_refusal_by_the_store_fails_at_once_and_the_incident_says_so(app, shopify):
    _, [comp_id] = planned(app, shopify, REFUND)
    shopify.failures = [("RedressRefund", "423")]
    assert run(comp_id) == "failed"
    [comp] = ledger(app, [comp_id])
    assert comp.attempts == 1 and comp.error.startswith("Shopify answered HTTP 423")
    [inc] = incidents(app)
    assert inc["status"] == "open"
    assert inc["evidence"][-1]["source"] == "compensation"
    assert inc["evidence"][-1]["fact"].startswith("the refund amount of 8.00 USD failed: Shopify answered HTTP 423")


def test_revoked_credentials_do_not_fail_the_compensation(app, shopify):
    _, [comp_id] = planned(app, shopify, REFUND)
    shopify.tokens, shopify.token = set(), "shpat_reconnected"  # the merchant uninstalled, or rotated the token
    assert run(comp_id) == "retry"
    [comp] = ledger(app, [comp_id])
    assert comp.state == "issuing" and comp.error.startswith("not issued yet: Shopify refused the access token")


def test_a_cancel_that_comes_after_the_job_started_is_refused_not_overwritten(app, shopify):
    order_id, [comp_id] = planned(app, shopify, REFUND)
    with db(app).session() as merchant:
        comp = merchant.get(Compensation, comp_id)  # the merchant's screen shows it planned...
        assert comp.state == "planned"
        assert compensate.issue(comp_id) == "issued"  # ...while the worker issues it
        with pytest.raises(LedgerError, match=f"compensation {comp_id} is issued: only planned or waiting"):
            cancel(merchant, comp)
        merchant.commit()
    assert ledger(app, [comp_id])[0].state == "issued" and len(shopify.refunds_of(order_id)) == 1


def test_a_cancel_while_issuing_is_refused_with_a_reason(app, shopify):
    _, [comp_id] = planned(app, shopify, REFUND)
    shopify.failures = [("RedressRefund", "500")]
    run(comp_id)
    with db(app).session() as s, pytest.raises(LedgerError, match="is being issued"):
        cancel(s, s.get(Compensation, comp_id))


def test_a_cancel_that_wins_stops_the_job(app, shopify):
    order_id, [comp_id] = planned(app, shopify, REFUND)
    with db(app).session() as s:
        cancel(s, s.get(Compensation, comp_id))
        s.commit()
    assert compensate.issue(comp_id) == "cancelled" and shopify.refunds_of(order_id) == []


def test_two_approvals_at_once_approve_once(app, shopify):
    _, [comp_id] = planned(app, shopify, REFUND, approval="always")
    with db(app).session() as first, db(app).session() as second:
        a, b = first.get(Compensation, comp_id), second.get(Compensation, comp_id)
        approve(first, a)
        first.commit()
        with pytest.raises(LedgerError, match="is planned, not awaiting approval"):
            approve(second, b)
        second.commit()
    [comp] = ledger(app, [comp_id])
    assert comp.state == "planned" and sum("approved" in n for n in comp.notes) == 1


def test_the_sweep_asks_again_less_and_less_often(app, shopify):
    _, [comp_id] = planned(app, shopify, REFUND)
    last = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with db(app).session() as s:
        s.execute(update(Compensation).values(state="issuing", attempts=12, updated_at=last))
        s.commit()
        assert stuck(s, last + timedelta(minutes=11)) == []  # 12 runs: 160 minutes apart by now
        assert stuck(s, last + timedelta(minutes=161)) == [comp_id]
        s.execute(update(Compensation).values(attempts=80, updated_at=last))
        assert stuck(s, last + timedelta(hours=6, minutes=1)) == [comp_id]  # never more than 6 hours


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_store_that_keeps_failing_does_not_hold_the_worker(tmp_path, database_url, redis_server, httpserver):
    # Production settings: six tries per platform call. A compensation job still gives up after a second try
    # and leaves the waiting to the queue.
    app = create_app(make_config(tmp_path, database_url, redis_server, platform_attempts=6))
    redis_conn(app).flushall()
    fake = FakeShopify(httpserver)
    fake.shop_id, _ = connect_shopify(app, admin_url=fake.endpoint)
    use_app(app)
    _, [comp_id] = planned(app, fake, REFUND)
    fake.failures = [("RedressRefund", "500")] * 100
    enqueue_compensation(redis_conn(app), comp_id)
    run_worker(app)
    assert sum("RedressRefund(" in r.get("query", "") for r in fake.requests) <= 2
    registry = ScheduledJobRegistry(queue=queue(redis_conn(app), "compensate"))
    assert f"compensate-{comp_id}" in registry.get_job_ids()  # backing off in the queue
    assert ledger(app, [comp_id])[0].state == "issuing"
    app.extensions["redress.db"].dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_command_line_shows_why_a_compensation_is_not_issued(app, shopify):
    _, [comp_id] = planned(app, shopify, REFUND)
    shopify.failures = [("RedressRefund", "423")]
    run(comp_id)
    out = redress(app, "incidents", "list", check=False)
    assert out.exit_code == 0, out.stderr
    assert f"compensation {comp_id}: refund amount 8.00 USD, failed, 1 attempt (Shopify answered HTTP 423" in out.stdout
