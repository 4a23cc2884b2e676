"""Offers in the rules: what a merchant may write, what is refused and why, and what each option is worth."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.compensation.policy import check_policy, default_policy
from plugin.compensation.rules import (
    IncidentContext,
    Offer,
    PolicyError,
    RuleAction,
    offered,
    parse_policy,
    plan,
    plan_offer,
    plan_option,
    policy_json,
)
from tests.compensation.test_rules import action, contexts, money, percents, policies

D = Decimal
REFUND = {"action": "refund_shipping"}
COUPON = {"action": "coupon_percent", "percent": "15", "valid_days": 90}


def offer_rule(*options, days=7, **rule) -> dict:
    then = {"action": "offer", "options": list(options), "default_after_days": days}
    return {"name": "Shop fault: choose", "when": {"responsibility": ["shop"]}, "then": [then], **rule}


def policy_of(*rules, cap="30", above="50") -> dict:
    return {"caps": {"per_order_percent_of_total": cap, "approval_above": above}, "rules": list(rules)}


def ctx(**kw) -> IncidentContext:
    base = dict(kind="fulfillment_late", responsibility="shop", delay_days=D(1), total=D("80.00"),
                shipping=D("5.00"), currency="EUR")
    base.update(kw)
    return IncidentContext(**base)


def test_an_offer_of_the_contract_parses_and_is_stored_back_as_written():
    written = offer_rule(REFUND, COUPON)
    [rule] = parse_policy(policy_of(written)).rules
    assert rule.then == () and rule.offer == Offer(
        options=(RuleAction("refund_shipping"), RuleAction("coupon_percent", percent=D(15), valid_days=90)),
        default_after_days=7)
    assert policy_json(parse_policy(policy_of(written)))["rules"][0]["then"] == [
        {"action": "offer", "options": [REFUND, COUPON], "default_after_days": 7}]


def test_the_days_before_the_default_are_seven_unless_written():
    then = [{"action": "offer", "options": [REFUND, COUPON]}]
    [rule] = parse_policy(policy_of({"name": "r", "then": then})).rules
    assert rule.offer is not None and rule.offer.default_after_days == 7
    [rule] = parse_policy(policy_of(offer_rule(REFUND, COUPON, {"action": "refund_amount", "amount": "5"},
                                               days="30"))).rules
    assert rule.offer is not None and rule.offer.default_after_days == 30 and len(rule.offer.options) == 3


@pytest.mark.parametrize("then, message", [
    ([{"action": "offer", "options": [REFUND]}], "offer: give the customer 2 or 3 options to choose from, not 1"),
    ([{"action": "offer", "options": [REFUND, COUPON, {"action": "coupon_amount", "amount": "5"},
                                      {"action": "refund_amount", "amount": "5"}]}],
     "offer: give the customer 2 or 3 options to choose from, not 4"),
    ([{"action": "offer", "options": "refund or coupon"}], "offer: its options must be a list of 2 or 3 actions"),
    ([{"action": "offer"}], "offer: its options must be a list of 2 or 3 actions"),
    ([{"action": "offer", "options": [REFUND, {"action": "offer", "options": [REFUND, COUPON]}]}],
     "offer, option 2: an option must be a refund or a coupon, not another offer"),
    ([{"action": "offer", "options": [REFUND, {"action": "free_pony"}]}],
     "offer, option 2: 'free_pony' is not one of refund_shipping"),
    ([{"action": "offer", "options": [REFUND, {"action": "coupon_percent", "percent": "150"}]}],
     "offer, option 2: percent must be a percentage from 0.01 to 100, not 150"),
    ([{"action": "offer", "options": [REFUND, {"action": "coupon_percent"}]}], "offer, option 2: percent is missing"),
    ([{"action": "offer", "options": [REFUND, REFUND]}], "offer: the same option twice"),
    ([{"action": "offer", "options": [REFUND, COUPON], "default_after_days": 0}],
     "offer: the days before the first option is given must be a number of days from 1 to 30, not 0"),
    ([{"action": "offer", "options": [REFUND, COUPON], "default_after_days": 31}],
     "must be a number of days from 1 to 30, not 31"),
    ([{"action": "offer", "options": [REFUND, COUPON], "default_after_days": "a week"}],
     "the days before the first option is given must be a number of days, not 'a week'"),
    ([{"action": "offer", "options": [REFUND, COUPON], "default_after_days": 2.5}],
     "must be a whole number, not 2.5"),
    ([{"action": "offer", "options": [REFUND, COUPON], "default": 1}], "offer: unknown setting 'default'"),
    ([REFUND, {"action": "offer", "options": [REFUND, COUPON]}], "an offer must be the rule's only action"),
    ([{"action": "offr"}], "'offr' is not one of refund_shipping, refund_amount, refund_percent, coupon_percent, "
                           "coupon_amount, offer"),
])
def test_a_broken_offer_is_refused_with_a_sentence_naming_the_rule(then, message):
    with pytest.raises(PolicyError) as err:
        parse_policy(policy_of({"name": "Choose", "then": then}))
    assert any(p.startswith("Rule 1 (“Choose”)") and message in p for p in err.value.problems), err.value.problems
    # The settings page and `redress shops policy --set` refuse it the same way.
    whole = {**default_policy(), "rules": [{"name": "Choose", "then": then}]}
    assert any(message in p for p in check_policy(whole, "Europe/Madrid"))


def test_an_offer_plans_nothing_until_a_choice_and_each_option_is_fitted_on_its_own():
    coupon_20 = {"action": "coupon_percent", "percent": "20", "valid_days": 30}
    policy = parse_policy(policy_of(offer_rule(REFUND, coupon_20)))
    small = ctx(total=D("20.00"), shipping=D("10.00"))  # the cap is 6.00
    assert plan(policy, small) == []
    rule, (refund, coupon) = plan_offer(policy, small)
    assert rule.name == "Shop fault: choose"
    assert (refund.action, refund.amount) == ("refund_shipping", D("6.00"))  # each fitted alone, not 6.00 together
    assert (coupon.action, coupon.percent, coupon.value, coupon.valid_days) == \
        ("coupon_percent", D("20"), D("4.00"), 30)


def test_an_option_worth_nothing_is_left_out_and_a_used_up_cap_offers_nothing():
    policy = parse_policy(policy_of(offer_rule(REFUND, COUPON)))
    _, options = plan_offer(policy, ctx(shipping=D(0)))
    assert [p.action for p in options] == ["coupon_percent"]
    assert plan_offer(policy, ctx(), already_given=D("24.00")) == (policy.rules[0], [])
    assert plan_offer(parse_policy(default_policy()), ctx()) is None  # the deciding rule makes no offer


def test_a_chosen_option_gets_what_was_offered_or_less_if_the_cap_was_used_meanwhile():
    policy = parse_policy(policy_of(offer_rule(REFUND, COUPON)))
    c = ctx(total=D("20.00"), shipping=D("10.00"))
    shown = offered("refund_shipping", c, "Shop fault: choose", amount=D("6.00"))
    assert plan_option(policy, c, shown).amount == D("6.00")
    assert plan_option(policy, c, shown, already_given=D("2.50")).amount == D("3.50")
    assert plan_option(policy, c, shown, already_given=D("6.00")) is None
    coupon = offered("coupon_percent", c, "Shop fault: choose", percent=D(15), valid_days=90)
    assert coupon.value == D("3.00") and plan_option(policy, c, coupon).percent == D(15)


def test_a_chosen_option_waits_for_approval_as_its_rule_says():
    policy = parse_policy(policy_of(offer_rule(REFUND, COUPON, approval="always")))
    p = plan_option(policy, ctx(), offered("refund_shipping", ctx(), "Shop fault: choose", amount=D("5.00")))
    assert p.needs_approval and "this rule always waits for approval" in p.notes
    cheap = parse_policy(policy_of(offer_rule(REFUND, COUPON), above="4"))
    p = plan_option(cheap, ctx(), offered("refund_shipping", ctx(), "Shop fault: choose", amount=D("5.00")))
    assert p.needs_approval and "worth more than 4 EUR" in p.notes[-1]
    gone = offered("refund_shipping", ctx(), "A rule since deleted", amount=D("5.00"))
    assert plan_option(cheap, ctx(), gone).needs_approval  # the threshold applies when the rule is gone


# -- properties ---------------------------------------------------------------------------------------------

offers = st.builds(
    lambda options, days: {"action": "offer", "options": options, "default_after_days": days},
    st.lists(action, min_size=2, max_size=3, unique_by=lambda a: tuple(sorted(a.items()))), st.integers(1, 30))
offer_policies = policies.flatmap(lambda p: st.builds(
    lambda o, at: {**p, "rules": [*p["rules"][:at], {"name": "offer", "when": {}, "then": [o]}, *p["rules"][at:]]},
    offers, st.integers(0, len(p["rules"]))))


@settings(max_examples=300, deadline=None)
@given(data=offer_policies, c=contexts, given_before=st.decimals(0, 100, places=2))
def test_every_offered_option_fits_the_cap_alone_and_a_choice_never_gets_more(data, c, given_before):
    policy = parse_policy(data)
    assert parse_policy(policy_json(policy)) == policy
    made = plan_offer(policy, c, already_given=given_before)
    if made is None:
        return
    rule, options = made
    assert plan(policy, c) == [] and len(options) <= len(rule.offer.options)
    left = max(c.total * policy.per_order_percent_of_total / 100 - given_before, D(0))
    for p in options:
        assert p.value <= left or rule.approval == "always"
        assert p.value > 0 or p.action == "coupon_percent"
        shown = offered(p.action, c, p.rule, amount=p.amount, percent=p.percent, valid_days=p.valid_days)
        again = plan_option(policy, c, shown, already_given=given_before)
        assert again is not None and again.value <= p.value and again.amount == p.amount


@given(st.lists(st.one_of(money.map(str), percents.map(str), st.none(), st.text(max_size=4)), max_size=4),
       st.one_of(st.integers(-5, 40), st.text(max_size=3), st.none()))
def test_any_offer_is_either_parsed_or_refused_with_sentences(options, days):
    raw = {"action": "offer", "options": [{"action": "refund_amount", "amount": o} for o in options],
           "default_after_days": days}
    try:
        [rule] = parse_policy(policy_of({"name": "r", "then": [raw]})).rules
    except PolicyError as exc:
        assert exc.problems and all(p.startswith("Rule 1") for p in exc.problems)
    else:
        assert rule.offer is not None and 2 <= len(rule.offer.options) <= 3 and 1 <= rule.offer.default_after_days <= 30
