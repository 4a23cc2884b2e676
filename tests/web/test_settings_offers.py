"""The settings page's offers (a rule whose refund and coupon the customer chooses between) and its communication
section: each saved from the form, shown back as stored, and refused whole with a clear sentence when wrong."""

from __future__ import annotations

import copy
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from plugin.compensation.policy import default_policy
from plugin.extensions import db
from plugin.messages.communication import DEFAULT_COMMUNICATION, EMAIL
from plugin.storage.models import Shop
from plugin.web.settings_form import policy_from_form
from tests.support.platforms import connect_shopify
from tests.web.test_settings import form_of, shop_fault_incident, sign_in

COUPON_10 = {"action": "coupon_percent", "percent": "10", "valid_days": "90"}


def stored(app, shop_id) -> dict:
    with db(app).session() as s:
        return copy.deepcopy(s.get(Shop, shop_id).policy)


def signed_in_form(app, client) -> tuple[int, dict[str, list[str]]]:
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    return shop_id, form_of(client.get("/settings").get_data(as_text=True))


def save(client, data) -> tuple[int, str]:
    r = client.post("/settings", data={**data, "intent": "save"})
    return r.status_code, r.get_data(as_text=True)


def test_a_rule_becomes_an_offer_the_customer_chooses_from_and_is_shown_back(app, client):
    shop_id, data = signed_in_form(app, client)
    assert "rule-0-offer" not in data and data["rule-0-default_after_days"] == ["7"]
    data.update({"rule-0-offer": ["1"], "rule-0-default_after_days": ["5"], "rule-0-offer_default": ["coupon"]})
    assert save(client, data)[0] == 302
    [rule, *_] = stored(app, shop_id)["rules"]
    assert rule["then"] == [{"action": "offer", "options": [COUPON_10, {"action": "refund_shipping"}],
                             "default_after_days": 5}]

    page = client.get("/settings").get_data(as_text=True)
    shown = form_of(page)
    assert shown["rule-0-offer"] == ["1"] and shown["rule-0-default_after_days"] == ["5"]
    assert shown["rule-0-offer_default"] == ["coupon"]
    assert shown["rule-0-refund"] == ["refund_shipping"] and shown["rule-0-coupon_value"] == ["10"]
    before = stored(app, shop_id)
    assert save(client, shown)[0] == 302 and stored(app, shop_id) == before  # saved again as shown: unchanged

    shown.pop("rule-0-offer")  # no longer a choice: the refund and the coupon both, as before
    assert save(client, shown)[0] == 302
    assert stored(app, shop_id)["rules"][0]["then"] == [{"action": "refund_shipping"}, COUPON_10]


@pytest.mark.parametrize("changes, message", [
    ({"rule-0-coupon": [""]}, "Rule 1 (“Shop fault: refund shipping and a 10 % coupon”), offer: give the customer "
                              "2 or 3 options to choose from, not 1"),
    ({"rule-0-default_after_days": ["40"]}, "offer: the days before the first option is given must be a number of "
                                            "days from 1 to 30, not 40"),
    ({"rule-0-default_after_days": ["a week"]}, "must be a number of days, not &#39;a week&#39;"),
    ({"rule-0-coupon_value": ["150"]}, "offer, option 2: percent must be a percentage from 0.01 to 100, not 150"),
])
def test_a_broken_offer_is_refused_with_its_sentence_and_nothing_is_saved(app, client, changes, message):
    shop_id, data = signed_in_form(app, client)
    before = stored(app, shop_id)
    data.update({"rule-0-offer": ["1"], **changes})
    status, page = save(client, data)
    assert status == 400 and "Nothing was saved" in page and message in page
    assert 'name="rule-0-offer" value="1" checked' in page  # as typed, to be corrected
    assert stored(app, shop_id) == before


def test_an_offer_the_row_cannot_show_is_described_and_kept_as_it_is(app, client):
    shop_id, _ = connect_shopify(app)
    three = {"action": "offer", "default_after_days": 10, "options": [
        {"action": "refund_shipping"}, {"action": "coupon_percent", "percent": "15", "valid_days": 30},
        {"action": "coupon_amount", "amount": "5", "valid_days": 60}]}
    with db(app).session() as s:  # set with `redress shops policy --set`
        shop = s.get(Shop, shop_id)
        policy = copy.deepcopy(shop.policy)
        policy["rules"][1]["then"] = [three]
        shop.policy = policy
        s.commit()
    sign_in(app, client, shop_id)
    page = client.get("/settings").get_data(as_text=True)
    assert "the customer chooses one of: refund shipping; coupon percent 15 %, valid 30 days; coupon amount 5, " \
           "valid 60 days" in page
    assert "The first is given if nothing is chosen in 10 days" in page and "rule-1-coupon_value" not in page
    data = form_of(page)
    data["rule-0-coupon_value"] = ["12"]
    assert save(client, data)[0] == 302
    rules = stored(app, shop_id)["rules"]
    assert rules[1]["then"] == [three] and rules[0]["then"][1]["percent"] == "12"


def test_the_preview_counts_an_offer_at_its_dearest_option(app, client):
    shop_id, data = signed_in_form(app, client)
    shop_fault_incident(app, shop_id)  # 100.00 EUR, 5.00 shipping: shipping back, or a coupon worth 10.00
    data["rule-0-offer"] = ["1"]
    page = client.post("/settings", data={**data, "intent": "preview"}).get_data(as_text=True)
    assert re.search(r'id="preview-current-cost">15.00 EUR', page)
    assert re.search(r'id="preview-after-cost">10.00 EUR', page)
    assert "1 × choice of refund shipping or coupon percent" in page
    assert "the preview counts the dearest one" in page


COMMUNICATION = {
    "communication-max_silence_hours": ["48"], "communication-reply_within_business_hours": ["4"],
    "communication-quiet_from": ["21:30"], "communication-quiet_to": ["07:00"],
    "communication-sender_name": ["Ana at Snowdevil"], "communication-reply_to": ["help@snowdevil.example"],
    "communication-team_emails": ["ops@snowdevil.example, ana@snowdevil.example\nluis@snowdevil.example"],
    "communication-team_webhook_url": ["https://hooks.slack.com/services/T0/B0/x"],
}


def test_the_communication_settings_are_saved_and_shown_back(app, client):
    shop_id, data = signed_in_form(app, client)
    assert data["communication-max_silence_hours"] == ["72"] and data["communication-quiet_from"] == ["22:00"]
    assert data["communication-team_emails"] == [""]
    assert save(client, {**data, **COMMUNICATION})[0] == 302
    assert stored(app, shop_id)["communication"] == {
        "max_silence_hours": 48, "reply_within_business_hours": 4, "quiet_hours": {"from": "21:30", "to": "07:00"},
        "sender_name": "Ana at Snowdevil", "reply_to": "help@snowdevil.example",
        "team_emails": ["ops@snowdevil.example", "ana@snowdevil.example", "luis@snowdevil.example"],
        "team_webhook_url": "https://hooks.slack.com/services/T0/B0/x"}
    shown = form_of(client.get("/settings").get_data(as_text=True))
    assert shown["communication-team_emails"] == [
        "ops@snowdevil.example\nana@snowdevil.example\nluis@snowdevil.example"]
    assert {k: shown[k] for k in COMMUNICATION if k != "communication-team_emails"} == \
        {k: v for k, v in COMMUNICATION.items() if k != "communication-team_emails"}
    before = stored(app, shop_id)
    assert save(client, shown)[0] == 302 and stored(app, shop_id) == before


def test_wrong_communication_settings_are_refused_with_every_problem_and_change_nothing(app, client):
    shop_id, data = signed_in_form(app, client)
    before = stored(app, shop_id)
    wrong = {"communication-max_silence_hours": ["200"], "communication-reply_within_business_hours": ["soon"],
             "communication-quiet_from": ["25:00"], "communication-reply_to": ["help at shop"],
             "communication-team_emails": ["ops@shop.example\nnot-an-address"],
             "communication-team_webhook_url": ["http://hooks.example/x"]}
    status, page = save(client, {**data, **wrong})
    assert status == 400 and "Nothing was saved" in page
    for message in ("The longest silence must be from 24 to 168 hours, not 200",
                    "The reply time must be a whole number of hours, not &#39;soon&#39;",
                    "Quiet hours need a start and an end written as HH:MM",
                    "The reply-to address &#39;help at shop&#39; is not an email address",
                    "Team address &#39;not-an-address&#39; is not an email address",
                    "The team webhook URL must be an https:// address"):
        assert message in page
    shown = form_of(page)  # the page again as typed
    assert shown["communication-max_silence_hours"] == ["200"] and shown["communication-reply_to"] == ["help at shop"]
    assert shown["communication-team_emails"] == ["ops@shop.example\nnot-an-address"]
    assert stored(app, shop_id) == before


def test_saved_settings_with_problems_anywhere_are_listed_and_the_preview_still_shows(app, client):
    shop_id, _ = connect_shopify(app)
    with db(app).session() as s:  # edited in the database
        shop = s.get(Shop, shop_id)
        shop.policy = {**shop.policy, "communication": {**DEFAULT_COMMUNICATION, "max_silence_hours": 500},
                       "timing": "weekdays"}
        s.commit()
    sign_in(app, client, shop_id)
    page = client.get("/settings").get_data(as_text=True)
    assert "Your saved settings have problems" in page
    assert "The longest silence must be from 24 to 168 hours, not 500" in page
    assert "The timing policy must be an object" in page
    assert 'id="preview-current-cost">0<' in page  # the rules are fine: what they give is still shown


A_FORM = MultiDict([("languages", "en"), *[("timing-business_days", str(d)) for d in range(5)]])


@settings(max_examples=200, deadline=None)
@given(hours=st.one_of(st.integers(-5, 400).map(str), st.text(max_size=4)))
def test_the_longest_silence_is_taken_only_from_24_to_168_hours(hours):
    form = MultiDict(A_FORM)
    form["communication-max_silence_hours"] = hours
    policy, _, problems = policy_from_form(form, default_policy())
    typed = hours.strip()
    if typed.isascii() and typed.isdigit() and 24 <= int(typed) <= 168:
        assert problems == [] and policy["communication"]["max_silence_hours"] == int(typed)
    else:
        assert [p for p in problems if p.startswith("The longest silence must be")] == problems != []


@settings(max_examples=200, deadline=None)
@given(emails=st.lists(st.one_of(st.emails(), st.text(max_size=8)), max_size=4),
       separator=st.sampled_from([", ", "\n", "\r\n", "; ", " "]))
def test_team_addresses_are_taken_one_a_line_or_between_commas(emails, separator):
    form = MultiDict(A_FORM)
    form["communication-team_emails"] = separator.join(emails)
    policy, _, problems = policy_from_form(form, default_policy())
    words = [w for e in emails for w in re.split(r"[,;\s]+", e) if w]
    assert policy["communication"]["team_emails"] == words
    assert (problems == []) == all(EMAIL.match(w.lower()) for w in words)
