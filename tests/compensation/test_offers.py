"""Offers on real databases: the deciding rule's offer is recorded instead of compensations, the customer chooses
(and may change their mind until the money moves), and the clock gives the first option once the days pass."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest

from jobs import compensate, offers
from plugin.compensation.ledger import approve, plan_for_incident
from plugin.compensation.offers import OfferError, choose_offer, expire_offers, offer_json
from plugin.extensions import db, redis_conn
from plugin.orders.facts import iso
from plugin.storage.models import Compensation, Incident, Order, Shop
from plugin.storage.queue import EXPIRE_OFFERS, SCHEDULE, enqueue, exclusive, queue
from tests.support.ledger import NOW, set_policy
from tests.support.work import run_worker

REFUND = {"action": "refund_shipping"}
COUPON = {"action": "coupon_percent", "percent": "15", "valid_days": 90}
_ids = itertools.count(81000)


def offer_policy(*options, days=7, cap="30", **rule) -> dict:
    return {"caps": {"per_order_percent_of_total": cap, "approval_above": None},
            "rules": [{"name": "Shop fault: choose", "when": {"responsibility": ["shop"]}, "approval": "never",
                       "then": [{"action": "offer", "options": list(options or (REFUND, COUPON)),
                                 "default_after_days": days}], **rule}]}


def late_incident(app, fake, total="20.00", shipping="10.00", at=NOW) -> tuple[str, int]:
    """A shop-fault incident opened at `at` and planned by the shop's rules; its order is payable at the fake."""
    n = str(next(_ids))
    with db(app).session() as s:
        shop = s.get(Shop, fake.shop_id)
        order = Order(shop_id=shop.id, platform_order_id=n, number=f"#{n}", total=Decimal(total),
                      shipping=Decimal(shipping), currency="USD", customer_email="ana@example.com",
                      facts={"customer_id": "gid://shopify/Customer/7"})
        incident = Incident(shop_id=shop.id, order=order, kind="fulfillment_late", responsibility="shop",
                            status="open", evidence=[], opened_at=at, late_since=at - timedelta(days=2))
        s.add_all([order, incident])
        s.flush()
        planned = plan_for_incident(s, incident, order, shop, at)
        assert planned == [] or incident.offer is None  # an offer plans nothing by itself
        s.commit()
    fake.add_payable_order(n, total=total, shipping=shipping)
    return n, incident.id


def choose(app, incident_id: int, index, at=NOW, by="customer") -> list[int]:
    with db(app).session() as s:
        new = choose_offer(s, s.get(Incident, incident_id), index, at, by=by)
        s.commit()
        return [c.id for c in new]


def incident(app, incident_id: int) -> Incident:
    with db(app).session() as s:
        inc = s.get(Incident, incident_id)
        inc.compensations  # noqa: B018 - loaded while the session is open
        return inc


def test_the_deciding_offer_is_recorded_once_instead_of_compensations(app, shopify):
    set_policy(app, shopify.shop_id, offer_policy(days=5))
    _, incident_id = late_incident(app, shopify)
    inc = incident(app, incident_id)
    assert inc.compensations == [] and inc.status == "open" and inc.offer_chosen is None
    assert inc.offer == {
        "rule": "Shop fault: choose", "default_after_days": 5, "deadline": iso(NOW + timedelta(days=5)),
        "options": [  # 10.00 of shipping fitted to the 30 % cap of 20.00; the coupon's 3.00 fits as it is
            {"action": "refund_shipping", "amount": "6.00", "percent": None, "valid_days": None, "currency": "USD"},
            {"action": "coupon_percent", "amount": None, "percent": "15", "valid_days": 90, "currency": "USD"}]}
    assert inc.evidence[-1] == {"at": iso(NOW), "source": "offer", "fact": "offered the customer a choice of refund "
                                "shipping of 6.00 USD or coupon percent of 15 %; the first is given if nothing is "
                                "chosen in 5 days"}
    assert offer_json(inc) == {"options": [{"action": "refund_shipping", "amount": "6.00", "currency": "USD"},
                                           {"action": "coupon_percent", "percent": "15"}],
                               "chosen": None, "chosen_at": None}

    # Planned again later, under changed rules: what the customer was shown stays as shown.
    set_policy(app, shopify.shop_id, offer_policy(REFUND, {**COUPON, "percent": "25"}))
    with db(app).session() as s:
        inc2 = s.get(Incident, incident_id)
        assert plan_for_incident(s, inc2, inc2.order, inc2.order.shop, NOW + timedelta(days=1)) == []
        s.commit()
    assert incident(app, incident_id).offer == inc.offer


def test_nothing_is_offered_when_the_caps_leave_nothing_and_a_worthless_option_is_left_out(app, shopify):
    set_policy(app, shopify.shop_id, offer_policy(cap="0"))
    _, none_left = late_incident(app, shopify)
    assert incident(app, none_left).offer is None and offer_json(incident(app, none_left)) is None
    set_policy(app, shopify.shop_id, offer_policy())
    _, free_shipping = late_incident(app, shopify, shipping="0.00")
    assert [o["action"] for o in incident(app, free_shipping).offer["options"]] == ["coupon_percent"]


def test_the_customer_chooses_changes_their_mind_and_the_choice_is_final_once_issued(app, shopify):
    set_policy(app, shopify.shop_id, offer_policy())
    order_id, incident_id = late_incident(app, shopify)
    later = NOW + timedelta(hours=1)

    [coupon_id] = choose(app, incident_id, 1, at=later)
    inc = incident(app, incident_id)
    [coupon] = inc.compensations
    assert (coupon.action, coupon.percent, coupon.valid_days, coupon.state) == ("coupon_percent", 15, 90, "planned")
    assert inc.status == "compensating" and inc.offer_chosen == 1 and inc.offer_chosen_at == later
    assert inc.evidence[-1] == {"at": iso(later), "source": "customer", "fact": "chose coupon percent of 15 %"}
    assert offer_json(inc)["chosen"] == 1 and offer_json(inc)["chosen_at"] == iso(later)

    [refund_id] = choose(app, incident_id, 0, at=later)  # changed their mind before the coupon went out
    [back_id] = choose(app, incident_id, 1, at=later)  # and back again: a key of its own, never the first one's
    assert choose(app, incident_id, 1, at=later) == []  # the same choice twice (a second click) changes nothing
    inc = incident(app, incident_id)
    assert [(c.id, c.action, c.amount, c.state) for c in inc.compensations] == [
        (coupon_id, "coupon_percent", None, "cancelled"), (refund_id, "refund_shipping", Decimal("6.00"), "cancelled"),
        (back_id, "coupon_percent", None, "planned")]
    assert len({c.idempotency_key for c in inc.compensations}) == 3
    assert len({c.code for c in inc.compensations if c.code}) == 2
    assert inc.evidence[-2]["fact"] == "chose refund shipping of 6.00 USD instead of coupon percent of 15 %"

    assert compensate.issue(back_id) == "issued"
    with pytest.raises(OfferError) as refused:
        choose(app, incident_id, 0)
    assert refused.value.code == "final" and str(refused.value) == \
        "Your choice is already being carried out, so it can no longer be changed."
    inc = incident(app, incident_id)
    assert inc.offer_chosen == 1 and [c.state for c in inc.compensations][-1] == "issued"
    assert len(inc.compensations) == 3 and shopify.refunds_of(order_id) == []
    assert [d["input"]["customerGets"]["value"] for d in shopify.discounts.values()] == [{"percentage": 0.15}]


def test_a_choice_that_cannot_be_made_is_refused_with_its_code_and_changes_nothing(app, shopify):
    set_policy(app, shopify.shop_id, offer_policy())
    _, incident_id = late_incident(app, shopify)
    for index in (2, -1, True, "0", None):
        with pytest.raises(OfferError) as refused:
            choose(app, incident_id, index)
        assert refused.value.code == "bad_option" and str(refused.value) == "That is not one of the options offered."
    set_policy(app, shopify.shop_id, {"rules": [{"name": "Coupon", "when": {}, "then": [COUPON]}]})
    _, plain = late_incident(app, shopify)
    with pytest.raises(OfferError, match="There is no offer to choose from") as refused:
        choose(app, plain, 0)
    assert refused.value.code == "no_offer"
    with db(app).session() as s:
        s.get(Incident, incident_id).status = "dismissed"  # the order was deleted: nothing is owed any more
        s.commit()
    with pytest.raises(OfferError) as refused:
        choose(app, incident_id, 0)
    assert refused.value.code == "no_offer"
    inc = incident(app, incident_id)
    assert inc.offer_chosen is None and inc.compensations == []


def test_a_choice_waiting_for_approval_can_still_be_changed(app, shopify):
    set_policy(app, shopify.shop_id, offer_policy(approval="always"))
    _, incident_id = late_incident(app, shopify)
    [first] = choose(app, incident_id, 0)
    assert incident(app, incident_id).status == "awaiting_approval"
    [second] = choose(app, incident_id, 1)
    inc = incident(app, incident_id)
    assert [(c.id, c.state) for c in inc.compensations] == [(first, "cancelled"), (second, "awaiting_approval")]
    with db(app).session() as s:
        approve(s, s.get(Compensation, second))
        s.commit()
    [comp] = [c for c in incident(app, incident_id).compensations if c.id == second]
    assert comp.state == "planned"
    assert choose(app, incident_id, 0)  # approved but not issued yet: still withdrawn
    states = [c.state for c in incident(app, incident_id).compensations]
    assert states == ["cancelled", "cancelled", "awaiting_approval"]


def test_two_deciders_at_once_never_both_win(app, shopify):
    set_policy(app, shopify.shop_id, offer_policy())
    _, incident_id = late_incident(app, shopify, at=NOW - timedelta(days=8))
    with db(app).session() as clock, db(app).session() as customer, db(app).session() as again:
        stale = clock.get(Incident, incident_id)  # the clock read the incident: no choice yet, days passed
        stale_customer = again.get(Incident, incident_id)
        assert stale.offer_chosen is None and stale_customer.offer_chosen is None
        assert stale_customer.compensations == []  # what the old page's session knew
        choose_offer(customer, customer.get(Incident, incident_id), 1, NOW)  # meanwhile, the customer chose
        customer.commit()
        assert choose_offer(clock, stale, 0, NOW, by="default") == []  # the default gives way to the customer
        clock.commit()
        # A second tab with the old page changes the choice, against the customer's first choice, not over it.
        [comp] = choose_offer(again, stale_customer, 0, NOW)
        again.commit()
        assert comp.action == "refund_shipping"
    inc = incident(app, incident_id)
    assert inc.offer_chosen == 0 and [c.state for c in inc.compensations] == ["cancelled", "planned"]
    assert [e["source"] for e in inc.evidence[-2:]] == ["customer", "customer"]


def test_the_clock_gives_the_first_option_of_offers_nobody_chose_in_time(app, shopify):
    set_policy(app, shopify.shop_id, offer_policy())
    order_id, expired = late_incident(app, shopify, at=NOW - timedelta(days=8))  # 7 days to choose, long gone
    _, fresh = late_incident(app, shopify, at=NOW - timedelta(days=6))
    _, chosen = late_incident(app, shopify, at=NOW - timedelta(days=8))
    choose(app, chosen, 1, at=NOW - timedelta(days=7, hours=1))
    assert any(p.name == "offers" and p.job == EXPIRE_OFFERS and p.every_minutes == 10 for p in SCHEDULE)

    enqueue(redis_conn(app), EXPIRE_OFFERS)  # as the clock does every 10 minutes
    run_worker(app)  # the real worker: the job gives the default, then the compensation goes out
    inc = incident(app, expired)
    [refund] = inc.compensations
    assert inc.offer_chosen == 0 and (refund.action, refund.amount, refund.state) == \
        ("refund_shipping", Decimal("6.00"), "issued")
    assert inc.evidence[-1]["source"] == "default" and inc.evidence[-1]["fact"] == \
        "chose refund shipping of 6.00 USD by default: nothing was chosen within 7 days"
    assert [r["amount"] for r in shopify.refunds_of(order_id)] == [Decimal("6.00")]
    assert incident(app, fresh).offer_chosen is None and incident(app, fresh).compensations == []
    assert incident(app, chosen).offer_chosen == 1 and len(incident(app, chosen).compensations) == 1

    # Run again, or while another run holds the lock: nothing more happens.
    assert offers.expire() == {"planned_by_default": 0, "compensations_enqueued": 0}
    with exclusive(redis_conn(app), offers.LOCK_KEY, 60) as mine:
        assert mine and offers.expire(NOW + timedelta(days=30)) == {"busy": True}
    assert incident(app, fresh).offer_chosen is None
    assert queue(redis_conn(app), "compensate").count == 0
    with db(app).session() as s:
        [late] = expire_offers(s, NOW + timedelta(days=2))  # the fresh one's days are up by then
        assert late.incident.id == fresh and late.state == "planned"
        assert expire_offers(s, NOW + timedelta(days=2)) == []  # and once given, it is not given twice
