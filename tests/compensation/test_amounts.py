"""What the platform pays is what the ledger says: refunds and coupons against both platforms' fakes."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs import compensate, sweep
from simulated.shopify import FakeShopify
from simulated.woocommerce import FakeWooCommerce
from tests.support.ledger import NOW, late_order, ledger, set_policy, shop_rule
from tests.support.platforms import post_shopify, shopify_order, wc_order
from tests.support.work import incidents, run_worker

CENT = Decimal("0.01")


def face_value(total: Decimal, percent: Decimal | None, amount: Decimal | None) -> Decimal:
    return (total * percent / 100).quantize(CENT, ROUND_DOWN) if percent is not None else amount


def shopify_paid(fake: FakeShopify, order_id: str, total: Decimal, codes: set[str]) -> Decimal:
    """What the fake refunded for the order, plus the face value of the discount codes it created."""
    paid = sum((r["amount"] for r in fake.refunds_of(order_id)), Decimal(0))
    for code in codes & set(fake.discounts):
        value = fake.discounts[code]["input"]["customerGets"]["value"]
        pct = Decimal(str(value["percentage"])) * 100 if "percentage" in value else None
        paid += face_value(total, pct, None if pct is not None else Decimal(value["discountAmount"]["amount"]))
    return paid


def woo_paid(fake: FakeWooCommerce, order_id: str, total: Decimal, codes: set[str]) -> Decimal:
    paid = sum((Decimal(r["amount"]) for r in fake.refunds.get(int(order_id), [])), Decimal(0))
    for code in {c.lower() for c in codes} & set(fake.coupons):
        c = fake.coupons[code]
        percent = c["discount_type"] == "percent"
        paid += face_value(total, Decimal(c["amount"]) if percent else None, None if percent else Decimal(c["amount"]))
    return paid


def test_a_capped_shipping_refund_pays_the_capped_amount_on_shopify(app, shopify):
    # Total 20.00, shipping 10.00, 30 % cap: 6.00 of shipping, not all of it.
    set_policy(app, shopify.shop_id, shop_rule({"action": "refund_shipping"}))
    order_id, [comp_id] = late_order(app, shopify.shop_id, Decimal("20.00"), Decimal("10.00"))
    shopify.add_payable_order(order_id, total="20.00", shipping="10.00")
    assert compensate.issue(comp_id) == "issued"
    [refund] = shopify.refunds_of(order_id)
    assert refund["amount"] == Decimal("6.00")
    assert refund["input"]["shipping"] == {"amount": "6.00"}
    [comp] = ledger(app, [comp_id])
    assert comp.amount == Decimal("6.00") and comp.platform_ref == refund["id"]


def test_a_capped_shipping_refund_pays_the_capped_amount_on_woocommerce(app, woo):
    set_policy(app, woo.shop_id, shop_rule({"action": "refund_shipping"}))
    order_id, [comp_id] = late_order(app, woo.shop_id, Decimal("20.00"), Decimal("10.00"))
    woo.add(wc_order(id=int(order_id), number=order_id, total="20.00"))
    assert compensate.issue(comp_id) == "issued"
    assert [r["amount"] for r in woo.refunds[int(order_id)]] == ["6.00"]


def test_a_shipping_refund_larger_than_what_is_left_is_refused_not_paid_in_part(app, shopify):
    set_policy(app, shopify.shop_id, shop_rule({"action": "refund_shipping"}, cap="100"))
    order_id, [comp_id] = late_order(app, shopify.shop_id, Decimal("50.00"), Decimal("10.00"))
    shopify.add_payable_order(order_id, total="50.00", shipping="10.00")
    shopify.payable[f"gid://shopify/Order/{order_id}"]["shipping_refunded"] = Decimal("4.00")  # by hand, earlier
    assert compensate.issue(comp_id) == "failed"
    assert shopify.refunds_of(order_id) == []
    [comp] = ledger(app, [comp_id])
    assert comp.error == "only 6.00 USD of shipping is left to refund, not 10.00"


ACTION = st.one_of(
    st.just({"action": "refund_shipping"}),
    st.builds(lambda a: {"action": "refund_amount", "amount": str(a)}, st.decimals("0.01", "300", places=2)),
    st.builds(lambda p: {"action": "refund_percent", "percent": str(p)}, st.decimals("0.01", "100", places=2)),
    st.builds(lambda p: {"action": "coupon_percent", "percent": str(p), "valid_days": 30},
              st.decimals("0.01", "100", places=2)),
    st.builds(lambda a: {"action": "coupon_amount", "amount": str(a), "valid_days": 30},
              st.decimals("0.01", "300", places=2)),
)


def _actions(draw_list: list[dict]) -> list[dict]:
    """At most one refund and one of each action per rule, as the settings page requires."""
    out, refund = {}, False
    for a in draw_list:
        if a["action"].startswith("refund"):
            if refund:
                continue
            refund = True
        out.setdefault(a["action"], a)
    return list(out.values())


CASES = dict(total=st.decimals("1.00", "2000.00", places=2), shipping_share=st.integers(0, 100),
             cap=st.decimals("1", "100", places=0), actions=st.lists(ACTION, min_size=1, max_size=5).map(_actions))


def codes(app, ids) -> set[str]:
    return {c.code for c in ledger(app, ids) if c.code}


def _check(app, ids, paid: Decimal, total: Decimal, cap: Decimal) -> None:
    comps = ledger(app, ids)
    assert [c.state for c in comps] == ["issued"] * len(comps), [(c.action, c.error) for c in comps]
    booked = sum((c.value for c in comps), Decimal(0))
    assert paid == booked
    assert booked <= (total * cap / 100).quantize(CENT, ROUND_DOWN)


def test_shopify_pays_and_discounts_exactly_what_the_ledger_records_within_the_cap(app, shopify):
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(**CASES)
    def case(total, shipping_share, cap, actions):
        shipping = (total * shipping_share / 200).quantize(CENT, ROUND_DOWN)
        set_policy(app, shopify.shop_id, shop_rule(*actions, cap=str(cap)))
        order_id, ids = late_order(app, shopify.shop_id, total, shipping)
        shopify.add_payable_order(order_id, total=str(total), shipping=str(shipping))
        for cid in ids:
            compensate.issue(cid)
        _check(app, ids, shopify_paid(shopify, order_id, total, codes(app, ids)), total, cap)

    case()


def test_woocommerce_pays_and_discounts_exactly_what_the_ledger_records_within_the_cap(app, woo):
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(**CASES)
    def case(total, shipping_share, cap, actions):
        shipping = (total * shipping_share / 200).quantize(CENT, ROUND_DOWN)
        set_policy(app, woo.shop_id, shop_rule(*actions, cap=str(cap)))
        order_id, ids = late_order(app, woo.shop_id, total, shipping)
        woo.add(wc_order(id=int(order_id), number=order_id, total=str(total)))
        for cid in ids:
            compensate.issue(cid)
        _check(app, ids, woo_paid(woo, order_id, total, codes(app, ids)), total, cap)

    case()


def test_a_second_plan_counts_what_the_incident_already_has_once(app, client, shopify):
    # Cap 30 of a 100.00 order: 10.00 of shipping first; when the delay grows, a coupon worth the other 20.00.
    set_policy(app, shopify.shop_id, {"caps": {"per_order_percent_of_total": "30", "approval_above": "25"}, "rules": [
        {"name": "Short delay", "when": {"responsibility": ["shop"], "max_delay_days": "20"},
         "then": [{"action": "refund_shipping"}]},
        {"name": "Long delay", "when": {"responsibility": ["shop"], "min_delay_days": "20"},
         "then": [{"action": "refund_shipping"}, {"action": "coupon_amount", "amount": "25", "valid_days": 30}]}]})
    order_id = "820982911946154508"
    shopify.add_payable_order(order_id, total="100.00", shipping="10.00")
    paid = (NOW - timedelta(days=10)).isoformat()
    post_shopify(client, shopify_order(total_price="100.00", current_total_price="100.00", financial_status="paid",
                                       cancelled_at=None, cancel_reason=None, processed_at=paid, created_at=paid,
                                       shipping_lines=[{"price": "10.00"}]), topic="orders/paid")
    run_worker(app)
    sweep.run(now=NOW + timedelta(days=15))
    run_worker(app)
    [inc] = incidents(app)
    by_action = {c["action"]: c for c in inc["compensations"]}
    assert by_action["refund_shipping"]["amount"] == "10.00"
    # Not 10.00 (the refund counted twice against the cap), and not held for approval (20.00 < 25).
    assert (by_action["coupon_amount"]["amount"], by_action["coupon_amount"]["state"]) == ("20.00", "issued")
    [coupon] = shopify.discounts.values()
    assert coupon["input"]["customerGets"]["value"]["discountAmount"]["amount"] == "20.00"
