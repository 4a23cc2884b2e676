"""In a real browser (Playwright driving Debian's Chromium): install from Shopify, change a rule, see it applied."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
import sqlalchemy

from tests.support.platforms import daytime_zone, shopify_order, sign

playwright = pytest.importorskip("playwright.sync_api")
DOCS = Path(__file__).resolve().parents[2] / "docs"
REDRESS = str(Path(sys.executable).parent / "redress")
SHOP = "snowdevil.myshopify.com"
SECRET = "app-secret-for-tests"


def install_link(base: str) -> str:
    params = {"shop": SHOP, "timestamp": str(int(time.time()))}
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["hmac"] = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    return f"{base}/auth/shopify?{urlencode(params)}"


def late_order(base: str, env: dict, order_id: int) -> None:
    """A shop-fault incident: an order of 100.00 (10.00 shipping) paid ten days ago and never shipped."""
    engine = sqlalchemy.create_engine(env["DATABASE_URL"])
    with engine.begin() as conn:  # daytime for the shop: the apology goes now, whatever the hour
        conn.execute(sqlalchemy.text("UPDATE shops SET timezone = :tz"), {"tz": daytime_zone()})
    engine.dispose()
    long_ago = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    body = json.dumps(shopify_order(id=order_id, name=f"#{order_id}", cancelled_at=None, cancel_reason=None,
                                    financial_status="paid", total_price="100.00", processed_at=long_ago,
                                    created_at=long_ago)).encode()
    r = requests.post(f"{base}/webhooks/shopify", data=body, timeout=5, headers={
        "X-Shopify-Topic": "orders/paid", "X-Shopify-Hmac-Sha256": sign(body, SECRET), "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": f"browser-{order_id}", "Content-Type": "application/json"})
    assert r.status_code == 200
    subprocess.run([REDRESS, "worker", "--burst"], env=env, check=True, timeout=120)


def test_install_change_the_coupon_to_15_percent_preview_and_the_next_incident_gets_it(server, page):
    base, env, fake = server
    # The admin clicks "Install" in Shopify: Shopify opens our app URL, the merchant approves, we come back.
    page.goto(install_link(base))
    page.get_by_text("Redress is connected to snowdevil.myshopify.com").wait_for()
    late_order(base, env, 1001)  # an earlier incident, compensated under the default 10 % rule
    assert [d["input"]["customerGets"]["value"] for d in fake.discounts.values()] == [{"percentage": 0.1}]

    page.get_by_role("link", name="Review your compensation rules").click()
    page.get_by_role("heading", name=f"Settings for {SHOP}").wait_for()
    assert page.locator("#preview-current-cost").inner_text() == "20.00 USD"  # 10.00 shipping + 10 % of 100.00
    coupon = page.locator('input[name="rule-0-coupon_value"]')
    assert coupon.input_value() == "10"
    coupon.fill("15")
    page.get_by_role("button", name="Preview the last 90 days").click()
    assert page.locator("#preview-after-cost").inner_text() == "25.00 USD"
    page.screenshot(path=str(DOCS / "settings-preview.png"), full_page=True)
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").get_by_text("Your settings are saved").wait_for()
    page.screenshot(path=str(DOCS / "settings.png"), full_page=True)

    late_order(base, env, 1002)  # the next shop-fault incident
    assert [d["input"]["customerGets"]["value"] for d in fake.discounts.values()] == [
        {"percentage": 0.1}, {"percentage": 0.15}]


def test_an_invalid_rule_is_refused_on_the_page_with_its_message(server, page):
    base, _, _ = server
    page.goto(install_link(base))
    page.get_by_role("link", name="Review your compensation rules").click()
    page.locator('input[name="rule-1-coupon_value"]').fill("150")
    page.get_by_role("button", name="Save").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Nothing was saved" in alert.inner_text()
    assert "percent must be a percentage from 0.01 to 100, not 150" in alert.inner_text()
    page.screenshot(path=str(DOCS / "settings-invalid-rule.png"), full_page=True)


def test_a_rule_becomes_an_offer_and_the_communication_settings_are_kept(server, page, tmp_path):
    base, env, fake = server
    page.goto(install_link(base))
    page.get_by_role("link", name="Review your compensation rules").click()
    page.get_by_role("heading", name=f"Settings for {SHOP}").wait_for()
    page.locator('input[name="rule-0-offer"]').check()
    page.locator('input[name="rule-0-default_after_days"]').fill("5")
    page.locator('select[name="rule-0-offer_default"]').select_option("coupon")
    page.get_by_label("Never leave a customer without news for more than").fill("48")
    page.get_by_label("Your team's email addresses").fill("ops@snowdevil.example\nana@snowdevil.example")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").get_by_text("Your settings are saved").wait_for()
    page.screenshot(path=str(tmp_path / "settings-offer.png"), full_page=True)
    assert page.locator('input[name="rule-0-offer"]').is_checked()
    assert page.locator('input[name="rule-0-default_after_days"]').input_value() == "5"
    assert page.locator('select[name="rule-0-offer_default"]').input_value() == "coupon"
    assert page.get_by_label("Never leave a customer without news for more than").input_value() == "48"
    assert page.get_by_label("Your team's email addresses").input_value() == \
        "ops@snowdevil.example\nana@snowdevil.example"

    page.get_by_label("Never leave a customer without news for more than").fill("200")
    page.get_by_role("button", name="Save").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "The longest silence must be from 24 to 168 hours, not 200" in alert.inner_text()

    late_order(base, env, 1001)  # the customer is offered the choice: nothing is refunded or given yet
    assert fake.discounts == {} and fake.refunds_of("1001") == []
    listed = subprocess.run([REDRESS, "incidents", "list", "--json"], env=env, check=True, capture_output=True,
                            text=True, timeout=60)
    [incident] = json.loads(listed.stdout)
    assert incident["compensations"] == [] and incident["evidence"][-1]["fact"] == (
        "offered the customer a choice of coupon percent of 10 % or refund shipping of 10.00 USD; the first is "
        "given if nothing is chosen in 5 days")


WIDER_THAN_THE_SCREEN = """[...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .slice(0, 10).map(e => e.tagName + ' ' + (e.name || e.className))"""


def assert_no_sideways_scroll(page) -> None:
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, f"wider than the screen: {page.evaluate(WIDER_THAN_THE_SCREEN)}"


def test_the_settings_page_works_on_a_phone(server, page):
    base, _, _ = server
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(install_link(base))
    page.get_by_role("link", name="Review your compensation rules").click()
    page.get_by_role("heading", name=f"Settings for {SHOP}").wait_for()
    assert_no_sideways_scroll(page)
    coupon = page.locator('input[name="rule-0-coupon_value"]')
    coupon.fill("12")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").get_by_text("Your settings are saved").wait_for()
    assert coupon.input_value() == "12"
    assert_no_sideways_scroll(page)
    page.screenshot(path=str(DOCS / "settings-phone.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/login")
    page.get_by_label("Your email").fill("owner@shop.example")
    assert_no_sideways_scroll(page)


def test_a_merchant_reads_what_the_customer_was_sent_and_rewrites_it_with_a_live_preview(server, page):
    base, env, _ = server
    page.goto(install_link(base))
    page.get_by_text("Redress is connected to snowdevil.myshopify.com").wait_for()
    late_order(base, env, 1001)  # no SMTP_URL: the apology goes to the outbox, and is shown here
    page.goto(f"{base}/settings/messages?purpose=opened&lang=en")
    sent = page.get_by_role("link", name="Order #1001: our mistake, and what we're doing about it")
    sent.wait_for()
    assert "(outbox)" in page.locator("table.sent").inner_text()
    frame = page.frame_locator("#preview-frame")
    assert "That is our mistake, and we're sorry." in frame.locator("body").inner_text()

    source = page.locator("#source")
    source.fill("Subject: So sorry about order {{ order_number }}\n\nHi {{ customer_name }}, it is late. Our fault.")
    page.locator("#preview-subject").get_by_text("So sorry about order #1001").wait_for()
    assert "it is late. Our fault." in frame.locator("body").inner_text()
    page.screenshot(path=str(DOCS / "messages-editor.png"), full_page=True)
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").get_by_text("Saved.").wait_for()

    sent.click()
    page.get_by_role("heading", name="Order #1001: our mistake, and what we're doing about it").wait_for()
    assert "written to the outbox" in page.locator("main").inner_text()
