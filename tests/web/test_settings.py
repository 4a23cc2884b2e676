"""The settings page: signed-in shops only, validated rules, a 90-day preview, and tenancy."""

from __future__ import annotations

import copy
import html
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from plugin.extensions import db
from plugin.storage.models import Incident, Order, Shop
from plugin.web import auth
from tests.support.platforms import connect_shopify, connect_woocommerce, post_shopify, shopify_order


def sign_in(app, client, shop_id):
    with app.test_request_context():
        link = auth.login_link(shop_id)
    r = client.get(link.split("127.0.0.1:8000", 1)[1])
    assert r.status_code == 302 and r.headers["Location"].endswith("/settings")
    return link


def form_of(page: str) -> dict[str, list[str]]:
    """The values a browser would submit from the settings form as it is shown."""
    data: dict[str, list[str]] = {}
    for m in re.finditer(r"<input([^>]*)>", page):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', m.group(1)))
        if "name" not in attrs or attrs.get("type") == "submit":
            continue
        if attrs.get("type") == "checkbox" and "checked" not in m.group(1):
            continue
        data.setdefault(attrs["name"], []).append(html.unescape(attrs.get("value", "")))
    for m in re.finditer(r'<select name="([^"]+)">(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', m.group(2))
        data[m.group(1)] = [chosen.group(1) if chosen else ""]
    for m in re.finditer(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        data[m.group(1)] = [html.unescape(m.group(2))]
    return data


def shop_fault_incident(app, shop_id, n=1, total="100.00"):
    now = datetime.now(UTC)
    with db(app).session() as s:
        order = Order(shop_id=shop_id, platform_order_id=str(n), number=f"#{n}", total=Decimal(total),
                      shipping=Decimal("5.00"), currency="EUR", facts={})
        s.add(Incident(shop_id=shop_id, order=order, kind="fulfillment_late", responsibility="shop", status="open",
                       evidence=[], opened_at=now - timedelta(days=3), late_since=now - timedelta(days=3)))
        s.commit()


def test_the_settings_page_is_for_signed_in_shops_only(app, client):
    assert client.get("/settings").status_code == 401
    shop_id, _ = connect_shopify(app)
    link = sign_in(app, client, shop_id)
    assert "Settings for snowdevil.myshopify.com" in client.get("/settings").get_data(as_text=True)
    other = app.test_client()
    assert other.get(link.split("127.0.0.1:8000", 1)[1]).status_code == 401  # a link works once
    assert other.get("/settings").status_code == 401


def test_changing_the_shop_fault_coupon_shows_the_preview_then_saves(app, client):
    shop_id, _ = connect_shopify(app)
    shop_fault_incident(app, shop_id)
    sign_in(app, client, shop_id)
    page = client.get("/settings").get_data(as_text=True)
    assert re.search(r'id="preview-current-cost">15.00 EUR', page)  # 5.00 shipping + 10 % of 100.00
    data = form_of(page)
    data["rule-0-coupon_value"] = ["15"]
    preview = client.post("/settings", data={**data, "intent": "preview"}).get_data(as_text=True)
    assert re.search(r'id="preview-after-cost">20.00 EUR', preview)
    saved = client.post("/settings", data={**data, "intent": "save"})
    assert saved.status_code == 302
    with db(app).session() as s:
        rule = s.get(Shop, shop_id).policy["rules"][0]
    assert rule["then"][1] == {"action": "coupon_percent", "percent": "15", "valid_days": "90"}
    assert "Your settings are saved" in client.get(saved.headers["Location"]).get_data(as_text=True)


def test_an_invalid_rule_is_refused_with_its_message_and_nothing_is_saved(app, client):
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    data = form_of(client.get("/settings").get_data(as_text=True))
    data["rule-0-coupon_value"] = ["150"]
    data["timing-business_days"] = []
    r = client.post("/settings", data={**data, "intent": "save"})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "Nothing was saved" in page
    assert "percent must be a percentage from 0.01 to 100, not 150" in page
    assert "At least one business day is needed" in page
    with db(app).session() as s:
        assert s.get(Shop, shop_id).policy["rules"][0]["then"][1]["percent"] == "10"


def test_rules_can_be_added_reordered_disabled_and_deleted(app, client):
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    data = form_of(client.get("/settings").get_data(as_text=True))
    data.update({"rule-new-name": ["VIP customers"], "rule-new-enabled": ["1"], "rule-new-tags": ["vip"],
                 "rule-new-coupon": ["coupon_amount"], "rule-new-coupon_value": ["20"], "rule-new-valid_days": ["30"],
                 "rule-0-position": ["5"], "rule-1-position": ["2"], "rule-2-delete": ["1"]})
    data.pop("rule-0-enabled")
    assert client.post("/settings", data={**data, "intent": "save"}).status_code == 302
    with db(app).session() as s:
        rules = s.get(Shop, shop_id).policy["rules"]
    assert [r["name"] for r in rules] == ["Carrier delay of 3 days or more: a 5 % goodwill coupon",
                                          "Shop fault: refund shipping and a 10 % coupon", "VIP customers"]
    assert rules[1]["enabled"] is False and rules[2]["when"] == {"tags": ["vip"]}
    assert rules[2]["then"] == [{"action": "coupon_amount", "amount": "20", "valid_days": "30"}]


def test_a_form_without_its_csrf_token_is_refused(app, client):
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    data = form_of(client.get("/settings").get_data(as_text=True))
    data["csrf"] = ["forged"]
    assert client.post("/settings", data={**data, "intent": "save"}).status_code == 400


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_shop_a_can_neither_see_nor_change_shop_b(app, client):
    a, token_a = connect_shopify(app)
    b, token_b = connect_woocommerce(app)
    shop_fault_incident(app, b, n=77, total="1000.00")
    sign_in(app, client, a)
    page = client.get("/settings").get_data(as_text=True)
    assert "127.0.0.1:9" not in page and 'id="preview-current-cost">0<' in page  # B's incident is not A's
    data = form_of(page)
    data["rule-0-coupon_value"] = ["12"]
    client.post("/settings", data={**data, "intent": "save"})
    with db(app).session() as s:
        assert s.get(Shop, b).policy["rules"][0]["then"][1]["percent"] == "10"
        assert s.get(Shop, a).policy["rules"][0]["then"][1]["percent"] == "12"
    seen_by_a = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token_a}"}).get_json()
    assert seen_by_a == []
    seen_by_b = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token_b}"}).get_json()
    assert [i["order"]["number"] for i in seen_by_b] == ["#77"]
    with db(app).session() as s:
        assert s.execute(select(Incident)).scalar_one().shop_id == b


def test_contact_channels_and_languages_are_validated_and_saved(app, client):
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    data = form_of(client.get("/settings").get_data(as_text=True))
    data.update({"contact-email": ["not-an-email"], "contact-whatsapp": ["call me"], "languages": []})
    page = client.post("/settings", data={**data, "intent": "save"}).get_data(as_text=True)
    assert "is not an email address" in page and "WhatsApp number may hold only digits" in page
    assert "at least one language" in page
    data.update({"contact-email": ["help@shop.example"], "contact-phone": ["+34 910 000 000"],
                 "contact-whatsapp": ["+34600000000"], "languages": ["es"]})
    assert client.post("/settings", data={**data, "intent": "save"}).status_code == 302
    with db(app).session() as s:
        policy = s.get(Shop, shop_id).policy
    assert policy["contact"] == {"email": "help@shop.example", "phone": "+34 910 000 000", "whatsapp": "+34600000000"}
    assert policy["languages"] == ["es"]


def test_the_page_shows_the_store_connection_and_still_opens_when_the_store_is_down(app, client, fake_shopify):
    shop_id, _ = connect_shopify(app, admin_url=fake_shopify.endpoint)
    sign_in(app, client, shop_id)
    page = client.get("/settings").get_data(as_text=True)
    assert "Redress can read your store" in page and "No update has arrived from your store yet" in page
    assert re.search(r"Some order updates are not sent to Redress:</strong> ORDERS_CREATE, ORDERS_UPDATED", page)
    assert post_shopify(client, shopify_order(), topic="orders/paid").status_code == 200
    assert "Last update received: orders/paid at" in client.get("/settings").get_data(as_text=True)

    down, _ = connect_woocommerce(app)  # nothing listens on its port
    other = app.test_client()
    sign_in(app, other, down)
    r = other.get("/settings")
    assert r.status_code == 200
    assert "Redress cannot read your store:</strong> the store did not answer (tried once: ConnectionError)" in \
        r.get_data(as_text=True)

    fake_shopify.tokens.clear()
    fake_shopify.token = "rotated"  # the token Redress holds is refused from now on
    refused, _ = connect_shopify(app, domain="refused.myshopify.com", admin_url=fake_shopify.endpoint)
    third = app.test_client()
    sign_in(app, third, refused)
    assert "Redress cannot read your store:</strong> Shopify refused the access token (HTTP 401)" in \
        third.get("/settings").get_data(as_text=True)


def test_a_stored_policy_that_no_longer_validates_is_listed_and_can_be_fixed(app, client):
    shop_id, _ = connect_shopify(app)
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        policy = copy.deepcopy(shop.policy)
        policy["rules"][0]["then"][1]["percent"] = "lots"  # edited in the database
        policy["rules"][1]["when"]["country"] = "Narnia"
        policy["rules"][2]["then"] = "refund everything"
        shop.policy = policy
        s.commit()
    sign_in(app, client, shop_id)
    r = client.get("/settings")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Your saved settings have problems" in page
    assert "percent must be a percentage, not &#39;lots&#39;" in page and "&#39;Narnia&#39; is not a country" in page
    assert "Rule 3 (“Lost parcel: full refund, held for approval”): its actions must be a list" in page
    data = form_of(page)
    data.update({"rule-0-coupon_value": ["12"], "rule-1-country": ["ES"]})
    assert client.post("/settings", data={**data, "intent": "save"}).status_code == 302
    with db(app).session() as s:
        rules = s.get(Shop, shop_id).policy["rules"]
    assert rules[0]["then"][1]["percent"] == "12" and rules[1]["when"]["country"] == ["ES"]
    assert "have problems" not in client.get("/settings").get_data(as_text=True)


def test_countries_are_saved_as_iso_codes_and_anything_else_is_refused(app, client):
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    data = form_of(client.get("/settings").get_data(as_text=True))
    data["rule-0-country"] = ["Narnia, ZZ, es"]
    r = client.post("/settings", data={**data, "intent": "save"})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "&#39;Narnia&#39;, &#39;ZZ&#39; are not countries" in page
    assert 'value="Narnia, ZZ, ES"' in page  # what was typed stays to be corrected
    with db(app).session() as s:
        assert "country" not in s.get(Shop, shop_id).policy["rules"][0]["when"]
    data["rule-0-country"] = ["Spain, fr"]
    assert client.post("/settings", data={**data, "intent": "save"}).status_code == 302
    with db(app).session() as s:
        assert s.get(Shop, shop_id).policy["rules"][0]["when"]["country"] == ["ES", "FR"]


def test_a_new_rule_without_a_name_is_refused_with_the_other_problems(app, client):
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    data = form_of(client.get("/settings").get_data(as_text=True))
    data.update({"rule-new-tags": ["vip"], "rule-new-coupon": ["coupon_percent"], "rule-new-coupon_value": ["5"],
                 "rule-0-coupon_value": ["150"]})
    r = client.post("/settings", data={**data, "intent": "save"})
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "Rule 4 needs a name" in page
    assert "percent must be a percentage from 0.01 to 100, not 150" in page
    assert 'name="rule-3-tags" value="vip"' in page  # the unnamed rule is on the page, to be named
    with db(app).session() as s:
        assert len(s.get(Shop, shop_id).policy["rules"]) == 3
    blank = form_of(client.get("/settings").get_data(as_text=True))  # the empty "Add a rule" row adds nothing
    assert client.post("/settings", data={**blank, "intent": "save"}).status_code == 302
    with db(app).session() as s:
        assert len(s.get(Shop, shop_id).policy["rules"]) == 3


def test_the_typed_sign_in_email_survives_a_form_error(app, client):
    shop_id, _ = connect_shopify(app)
    sign_in(app, client, shop_id)
    data = form_of(client.get("/settings").get_data(as_text=True))
    data.update({"owner-email": ["new-owner@shop.example"], "rule-0-coupon_value": ["150"]})
    page = client.post("/settings", data={**data, "intent": "save"}).get_data(as_text=True)
    assert 'name="owner-email" value="new-owner@shop.example"' in page
    data.update({"owner-email": ["owner at shop"], "rule-0-coupon_value": ["10"]})
    page = client.post("/settings", data={**data, "intent": "save"}).get_data(as_text=True)
    assert "is not an email address" in page and 'name="owner-email" value="owner at shop"' in page
