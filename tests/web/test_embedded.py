"""Inside the Shopify admin: the App Bridge ID token verified on every request, token exchange on first visit."""

from __future__ import annotations

import time

import jwt
import pytest
from sqlalchemy import select

from plugin.extensions import db
from plugin.storage.models import Shop
from tests.support.work import run_worker

SECRET = "app-secret-for-tests"


def id_token(shop: str, secret: str = SECRET, age: int = 0) -> str:
    now = int(time.time()) - age
    return jwt.encode({"iss": f"https://{shop}/admin", "dest": f"https://{shop}", "aud": "app-key", "sub": "42",
                       "exp": now + 60, "nbf": now, "iat": now, "jti": str(now), "sid": "s"}, secret,
                      algorithm="HS256")


@pytest.fixture
def fake(fake_shopify):
    return fake_shopify


@pytest.fixture
def app(shopify_app):
    return shopify_app


def open_app(client, shop="snowdevil.myshopify.com", token=None):
    return client.get("/app", query_string={"shop": shop, "host": "YWRtaW4", "embedded": "1",
                                            "id_token": token or id_token(shop)})


def test_the_first_visit_exchanges_the_id_token_and_shows_the_settings(app, client, fake):
    r = open_app(client)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Settings for snowdevil.myshopify.com" in page
    assert 'name="shopify-api-key" content="app-key"' in page and "app-bridge.js" in page
    [exchange] = fake.token_requests
    assert exchange["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange" and exchange["expiring"] == 1
    run_worker(app)
    assert len(fake.subscriptions) == 12
    open_app(client)
    assert len(fake.token_requests) == 1  # installed: no second exchange


def test_without_a_valid_id_token_there_is_no_page(client, fake):
    missing = client.get("/app", query_string={"shop": "snowdevil.myshopify.com", "host": "YWRtaW4"})
    assert missing.status_code in (302, 303) and "/app/patch-id-token" in missing.headers["Location"]
    forged = open_app(client, token=id_token("snowdevil.myshopify.com", secret="not-the-secret"))
    assert forged.status_code != 200 and "Settings for" not in forged.get_data(as_text=True)
    expired = open_app(client, token=id_token("snowdevil.myshopify.com", age=600))
    assert "Settings for" not in expired.get_data(as_text=True)
    assert fake.token_requests == []


def test_a_save_needs_a_fresh_id_token_and_touches_only_that_shop(app, client, fake):
    open_app(client, "shop-a.myshopify.com")
    open_app(client, "shop-b.myshopify.com")
    form = {"intent": "save", "rule-0-name": "Only rule", "rule-0-enabled": "1", "rule-0-responsibility": "shop",
            "rule-0-coupon": "coupon_percent", "rule-0-coupon_value": "15", "rule-0-valid_days": "90",
            "caps-per_order_percent_of_total": "30", "caps-approval_above": "50", "timezone": "UTC",
            "timing-business_days": ["0", "1", "2", "3", "4"], "languages": "en"}
    refused = client.post("/app", data=form)
    assert refused.status_code in (302, 401) and "Only rule" not in refused.get_data(as_text=True)
    ok = client.post("/app", data={**form, "id_token": id_token("shop-a.myshopify.com")})
    assert ok.status_code == 200 and "Your settings are saved" in ok.get_data(as_text=True)
    with db(app).session() as s:
        shops = {x.domain: x.policy for x in s.execute(select(Shop)).scalars()}
    assert [r["name"] for r in shops["shop-a.myshopify.com"]["rules"]] == ["Only rule"]
    assert len(shops["shop-b.myshopify.com"]["rules"]) == 3
