"""Installing on both platforms without a terminal: Shopify's OAuth grant and WooCommerce's key handshake."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from plugin.app import create_app
from plugin.extensions import db, vault
from plugin.storage.models import Shop
from simulated.woocommerce import FakeWooCommerce
from tests.conftest import make_config
from tests.support.work import run_worker

SHOP = "snowdevil.myshopify.com"


def signed(params: dict, secret: str = "app-secret-for-tests") -> dict:
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return {**params, "hmac": hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()}


@pytest.fixture
def fake(fake_shopify):
    return fake_shopify


@pytest.fixture
def app(shopify_app):
    return shopify_app


def begin(client, **extra):
    return client.get("/auth/shopify", query_string=signed({"shop": SHOP, "timestamp": str(int(time.time())),
                                                             **extra}))


def install(client, fake) -> object:
    start = begin(client)
    assert start.status_code == 302
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    fake.codes.add("code-123")
    return client.get("/auth/shopify/callback", query_string=signed(
        {"shop": SHOP, "code": "code-123", "state": state, "timestamp": str(int(time.time()))}))


def test_the_install_link_sends_the_merchant_to_shopify_with_a_state_bound_to_a_cookie(client, fake):
    r = begin(client)
    assert r.status_code == 302
    target = urlsplit(r.headers["Location"])
    q = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{fake.base}/admin/oauth/authorize"
    assert q["client_id"] == ["app-key"] and "write_discounts" in q["scope"][0]
    assert q["redirect_uri"] == ["https://redress.example.com/auth/shopify/callback"]
    assert len(q["state"][0]) > 20 and "redress_shopify_state" in r.headers["Set-Cookie"]
    assert "HttpOnly" in r.headers["Set-Cookie"]


@pytest.mark.parametrize("params, why", [
    ({"shop": SHOP, "timestamp": "{now}", "hmac": "0" * 64}, "not signed by Shopify"),
    ({"shop": "evil.example.com", "timestamp": "{now}"}, "my-store.myshopify.com"),
    ({"shop": SHOP, "timestamp": "1000"}, "expired"),
])
def test_a_bad_install_request_is_refused_with_400(client, params, why):
    params = {k: v.replace("{now}", str(int(time.time()))) for k, v in params.items()}
    query = params if "hmac" in params else signed(params)
    r = client.get("/auth/shopify", query_string=query)
    assert r.status_code == 400 and why in r.get_data(as_text=True)


def test_a_callback_without_the_matching_state_is_refused(client, fake):
    begin(client)
    fake.codes.add("code-123")
    r = client.get("/auth/shopify/callback", query_string=signed(
        {"shop": SHOP, "code": "code-123", "state": "forged", "timestamp": str(int(time.time()))}))
    assert r.status_code == 400 and fake.token_requests == []


def test_install_stores_expiring_tokens_encrypted_and_subscribes_the_webhooks(app, client, fake):
    r = install(client, fake)
    assert r.status_code == 200 and "Redress is connected to snowdevil.myshopify.com" in r.get_data(as_text=True)
    assert fake.token_requests[0]["expiring"] == 1
    with db(app).session() as s:
        shop = s.execute(select(Shop)).scalar_one()
        assert "shpat_issued_1" not in shop.credentials
        creds = json.loads(vault(app).decrypt(shop.credentials))
        assert creds["access_token"] == "shpat_issued_1" and creds["refresh_token"] == "shprt_issued_1"
    run_worker(app)
    assert {u for _, u in fake.subscriptions} == {"https://redress.example.com/webhooks/shopify"}
    assert len(fake.subscriptions) == 12


def test_a_reinstall_after_uninstall_switches_the_same_shop_back_on(app, client, fake):
    install(client, fake)
    with db(app).session() as s:
        shop = s.execute(select(Shop)).scalar_one()
        shop.active = False
        s.commit()
        first_id = shop.id
    assert install(client, fake).status_code == 200
    with db(app).session() as s:
        [shop] = s.execute(select(Shop)).scalars().all()
        assert shop.id == first_id and shop.active


def test_an_expiring_token_is_refreshed_once_before_use(app, client, fake):
    from jobs import reconcile, use_app

    install(client, fake)
    with db(app).session() as s:
        shop = s.execute(select(Shop)).scalar_one()
        creds = json.loads(vault(app).decrypt(shop.credentials))
        creds["expires_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        shop.credentials = vault(app).encrypt(json.dumps(creds))
        s.commit()
    use_app(app)
    [result] = reconcile.run()
    assert result["finished"]
    [refresh] = [t for t in fake.token_requests if t.get("grant_type") == "refresh_token"]
    assert refresh["refresh_token"] == "shprt_issued_1"
    [again] = reconcile.run()  # the new token is fresh: no second refresh
    assert again["finished"] and len(fake.token_requests) == 2
    with db(app).session() as s:
        creds = json.loads(vault(app).decrypt(s.execute(select(Shop)).scalar_one().credentials))
        assert creds["refresh_token"] == "shprt_issued_2" and creds["access_token"] == "shpat_issued_2"


@pytest.fixture
def store(httpserver):
    return FakeWooCommerce(httpserver)


def test_woocommerce_connect_page_refuses_a_private_store_unless_allowed(tmp_path, database_url, redis_server):
    strict = create_app(make_config(tmp_path, database_url, redis_server, allow_private_stores=False))
    c = strict.test_client()
    page = c.get("/connect/woocommerce")
    assert page.status_code == 200 and "Store address" in page.get_data(as_text=True)
    r = c.get("/connect/woocommerce", query_string={"store_url": "http://192.168.1.10"})
    assert r.status_code == 400 and "private, loopback or link-local" in r.get_data(as_text=True)


def test_woocommerce_connect_stores_the_keys_survives_a_repeated_callback_and_creates_webhooks(app, client, store):
    r = client.get("/connect/woocommerce", query_string={"store_url": store.url})
    assert r.status_code == 302
    target = urlsplit(r.headers["Location"])
    assert target.path == "/wc-auth/v1/authorize"
    q = parse_qs(target.query)
    assert q["scope"] == ["read_write"] and q["callback_url"] == [
        "https://redress.example.com/connect/woocommerce/callback"]
    body = {"key_id": 1, "user_id": q["user_id"][0], "consumer_key": "ck_test", "consumer_secret": "cs_test",
            "key_permissions": "read_write"}
    for _ in range(2):
        cb = client.post("/connect/woocommerce/callback", json=body)
        assert cb.status_code == 200 and cb.get_data() == b""
    with db(app).session() as s:
        [shop] = s.execute(select(Shop)).scalars().all()
        secret = vault(app).decrypt(shop.webhook_secret)
    run_worker(app)
    assert len(store.webhooks) == 4 and {h["secret"] for h in store.webhooks} == {secret}
    assert client.post("/connect/woocommerce/callback", json={**body, "user_id": "forged"}).status_code == 400
