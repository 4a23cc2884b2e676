"""The settings page: signed-in shops only, validated rules, a 90-day preview, and tenancy."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from plugin import auth, db
from plugin.models import Incident, Order, Shop
from tests.support.platforms import connect_shopify, connect_woocommerce


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
        data.setdefault(attrs["name"], []).append(attrs.get("value", ""))
    for m in re.finditer(r'<select name="([^"]+)">(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', m.group(2))
        data[m.group(1)] = [chosen.group(1) if chosen else ""]
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
