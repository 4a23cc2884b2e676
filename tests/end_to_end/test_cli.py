"""The `redress` command as a merchant or operator runs it, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.pg import _free_port
from tests.support.platforms import shopify_order, sign
from tests.support.work import start_web

REDRESS = str(Path(sys.executable).parent / "redress")


@pytest.fixture
def env(tmp_path, redis_server, sqlite_url):
    e = dict(os.environ)
    e.update(REDRESS_INSTANCE_DIR=str(tmp_path / "instance"), DATABASE_URL=sqlite_url, REDIS_URL=redis_server,
             SHOPIFY_API_SECRET="app-secret", SHOPIFY_SHOP_URL="http://127.0.0.1:9")  # nothing listens there
    e.pop("REDRESS_ENCRYPTION_KEYS", None)
    return e


def redress(env, *args, check=True):
    p = subprocess.run([REDRESS, *args], env=env, capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"redress {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


def test_connect_a_store_send_a_declined_order_and_see_the_incident(env, tmp_path):
    redress(env, "db", "upgrade")
    shop = json.loads(redress(env, "shops", "add", "shopify", "--domain", "Demo-Shop.myshopify.com",
                              "--token", "shpat_secret_token", "--webhook-secret", "whsec-123").stdout)
    assert shop["domain"] == "demo-shop.myshopify.com" and shop["api_token"].startswith("rdr_")
    port = _free_port()
    web = start_web(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        body = json.dumps(shopify_order(cancel_reason="declined")).encode()
        r = requests.post(f"{base}/webhooks/shopify", data=body, timeout=5, headers={
            "X-Shopify-Topic": "orders/cancelled", "X-Shopify-Hmac-Sha256": sign(body, "whsec-123"),
            "X-Shopify-Shop-Domain": "demo-shop.myshopify.com", "X-Shopify-Webhook-Id": "wh-1",
            "Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        redress(env, "worker", "--burst")
        [inc] = json.loads(redress(env, "incidents", "list", "--json").stdout)
        assert (inc["kind"], inc["responsibility"], inc["status"]) == ("payment_failed", "payment", "open")
        assert inc["order"]["number"] == "#9999"

        api = requests.get(f"{base}/api/v1/incidents", timeout=5,
                           headers={"Authorization": f"Bearer {shop['api_token']}"})
        assert api.status_code == 200 and [i["id"] for i in api.json()] == [inc["id"]]
        assert requests.get(f"{base}/api/v1/incidents", timeout=5,
                            headers={"Authorization": "Bearer wrong"}).status_code == 401
    finally:
        web.terminate()
        web.wait(10)

    listed = redress(env, "shops", "list", "--json").stdout
    assert "shpat_secret_token" not in listed and "whsec-123" not in listed and "api_token" not in listed
    db_file = env["DATABASE_URL"].split("///")[1]
    raw = Path(db_file).read_bytes()
    assert b"shpat_secret_token" not in raw and b"whsec-123" not in raw


def test_woocommerce_shop_prints_its_webhook_url_and_refuses_private_hosts(env):
    redress(env, "db", "upgrade")
    p = redress(env, "shops", "add", "woocommerce", "--url", "http://127.0.0.1:9/", "--key", "ck_1",
                "--secret", "cs_1", check=False)
    assert p.returncode == 1 and "private" in p.stderr
    env = {**env, "REDRESS_ALLOW_PRIVATE_STORES": "1", "REDRESS_PUBLIC_URL": "https://redress.example.com"}
    shop = json.loads(redress(env, "shops", "add", "woocommerce", "--url", "http://127.0.0.1:9/", "--key",
                              "ck_1", "--secret", "cs_1", "--webhook-secret", "given", "--no-api-refund").stdout)
    assert shop["webhook_url"] == f"https://redress.example.com/webhooks/woocommerce/{shop['id']}"
    assert "webhook_secret" not in shop  # given on the command line: never printed back


def test_bad_usage_exits_2_and_failures_exit_1(env):
    redress(env, "db", "upgrade")
    p = redress(env, "shops", "add", "shopify", "--domain", "x.myshopify.com", check=False)
    assert p.returncode == 2 and "--token" in p.stderr
    p = redress(env, "shops", "add", "shopify", "--domain", "evil.example.com", "--token", "t", check=False)
    assert p.returncode == 1 and "myshopify.com" in p.stderr
    redress(env, "shops", "add", "shopify", "--domain", "x.myshopify.com", "--token", "t")
    p = redress(env, "shops", "add", "shopify", "--domain", "x.myshopify.com", "--token", "t", check=False)
    assert p.returncode == 1 and "already connected" in p.stderr
    p = redress(env, "shops", "add", "shopify", "--domain", "y.myshopify.com", "--token", "t", "--timezone",
                "Mars/Base", check=False)
    assert p.returncode == 1 and "time zone" in p.stderr
    shop = json.loads(redress(env, "shops", "add", "shopify", "--domain", "y.myshopify.com", "--token", "t",
                              "--timezone", "Europe/Madrid").stdout)
    assert shop["timezone"] == "Europe/Madrid"
    p = redress(env, "incidents", "list", "--status", "bogus", "--json", check=False)
    assert p.returncode == 2


def test_keys_rotate_keeps_secrets_readable(env):
    redress(env, "db", "upgrade")
    redress(env, "shops", "add", "shopify", "--domain", "x.myshopify.com", "--token", "t", "--webhook-secret", "w")
    keyfile = Path(env["REDRESS_INSTANCE_DIR"]) / "encryption_keys"
    before = keyfile.read_text()
    redress(env, "keys", "rotate")
    after = keyfile.read_text().split(",")
    assert len(after) == 2 and after[1] == before
    from plugin.app import create_app
    from plugin.config import Config
    from plugin.extensions import db, vault
    from plugin.storage.models import Shop

    os.environ["REDRESS_INSTANCE_DIR"] = env["REDRESS_INSTANCE_DIR"]
    try:
        app = create_app(Config.from_env(database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"]))
    finally:
        del os.environ["REDRESS_INSTANCE_DIR"]
    with db(app).session() as s:
        shop = s.query(Shop).one()
        assert vault(app).decrypt(shop.webhook_secret) == "w"
        from cryptography.fernet import Fernet

        Fernet(after[0].encode()).decrypt(shop.webhook_secret.encode())  # under the newest key


def test_sweep_runs_once_and_reports(env):
    redress(env, "db", "upgrade")
    out = json.loads(redress(env, "sweep").stdout)
    assert out == {"stuck_deliveries": 0, "orders_checked": 0, "compensations_enqueued": 0, "inbox_purged": 0}


def test_reconcile_finds_a_stalled_order_whose_webhooks_were_lost(env, httpserver):
    from datetime import UTC, datetime, timedelta

    from tests.support.fake_woocommerce import FakeWooCommerce
    from tests.support.platforms import wc_order

    fake = FakeWooCommerce(httpserver)
    old = (datetime.now(UTC) - timedelta(days=9)).strftime("%Y-%m-%dT%H:%M:%S")
    fake.add(wc_order(id=42, number="42", date_created_gmt=old, date_paid_gmt=old, date_modified_gmt=old,
                      meta_data=[]))
    env = {**env, "REDRESS_ALLOW_PRIVATE_STORES": "1"}
    redress(env, "db", "upgrade")
    good = json.loads(redress(env, "shops", "add", "woocommerce", "--url", fake.url, "--key", "ck_test",
                              "--secret", "cs_test").stdout)
    [result] = json.loads(redress(env, "reconcile", "--shop", str(good["id"])).stdout)
    assert result["finished"] and result["stored"] == 1
    redress(env, "worker", "--burst")
    [inc] = json.loads(redress(env, "incidents", "list", "--json").stdout)
    assert (inc["kind"], inc["responsibility"], inc["order"]["number"]) == ("fulfillment_late", "shop", "#42")

    other_name = fake.url.replace("localhost", "127.0.0.1")  # the same store under another name
    bad = json.loads(redress(env, "shops", "add", "woocommerce", "--url", other_name, "--key", "ck_wrong",
                             "--secret", "cs_wrong").stdout)
    p = redress(env, "reconcile", "--shop", str(bad["id"]), check=False)
    assert p.returncode == 1 and "refused the REST keys" in p.stderr


def test_shops_add_warns_on_stderr_when_the_store_refuses_the_credentials(env, httpserver):
    from tests.support.fake_shopify import FakeShopify
    from tests.support.fake_woocommerce import FakeWooCommerce

    shopify, woo = FakeShopify(httpserver), FakeWooCommerce(httpserver)
    env = {**env, "REDRESS_ALLOW_PRIVATE_STORES": "1"}
    redress(env, "db", "upgrade")
    adds = {
        "good-shopify": ["shopify", "--domain", "good.myshopify.com", "--token", "shpat_test",
                         "--admin-url", shopify.endpoint],
        "bad-shopify": ["shopify", "--domain", "bad.myshopify.com", "--token", "shpat_revoked",
                        "--admin-url", shopify.endpoint],
        "good-woo": ["woocommerce", "--url", woo.url, "--key", "ck_test", "--secret", "cs_test"],
        "bad-woo": ["woocommerce", "--url", woo.url.replace("localhost", "127.0.0.1"), "--key", "ck_wrong",
                    "--secret", "cs_wrong"],
    }
    runs = {name: redress(env, "shops", "add", *args) for name, args in adds.items()}  # exit 0 every time
    for name, p in runs.items():
        shop = json.loads(p.stdout)  # the same JSON as ever, on stdout alone
        assert shop["api_token"].startswith("rdr_") and "warning" not in p.stdout, name
    assert runs["good-shopify"].stderr == "" and runs["good-woo"].stderr == ""
    assert "credentials do not work: Shopify refused the access token (HTTP 401)" in runs["bad-shopify"].stderr
    assert "credentials do not work: the store refused the REST keys (HTTP 401)" in runs["bad-woo"].stderr
    listed = json.loads(redress(env, "shops", "list", "--json").stdout)
    assert len(listed) == 4  # refused credentials still add the shop


def test_shops_check_tells_credentials_webhooks_and_the_last_delivery(env, httpserver):
    from tests.support.fake_shopify import FakeShopify

    fake = FakeShopify(httpserver)
    env = {**env, "REDRESS_ALLOW_PRIVATE_STORES": "1", "REDRESS_PUBLIC_URL": "https://redress.example.com"}
    redress(env, "db", "upgrade")
    shop = json.loads(redress(env, "shops", "add", "shopify", "--domain", "demo.myshopify.com", "--token",
                              "shpat_test", "--admin-url", fake.endpoint, "--webhook-secret", "whsec").stdout)
    sid = str(shop["id"])
    p = redress(env, "shops", "check", sid, "--json", check=False)
    status = json.loads(p.stdout)
    assert p.returncode == 1 and "webhooks missing: ORDERS_CREATE" in p.stderr
    assert status["credentials"] == {"ok": True, "error": None} and status["last_delivery"] is None
    assert status["webhooks"]["subscribed"] == [] and "ORDERS_PAID" in status["webhooks"]["missing"]
    assert status["webhooks"]["url"] == "https://redress.example.com/webhooks/shopify"

    redress(env, "shops", "subscribe", sid)
    port = _free_port()
    web = start_web(env, port)
    try:
        body = json.dumps(shopify_order()).encode()
        r = requests.post(f"http://127.0.0.1:{port}/webhooks/shopify", data=body, timeout=5, headers={
            "X-Shopify-Topic": "orders/paid", "X-Shopify-Hmac-Sha256": sign(body, "whsec"),
            "X-Shopify-Shop-Domain": "demo.myshopify.com", "X-Shopify-Webhook-Id": "wh-9",
            "Content-Type": "application/json"})
        assert r.status_code == 200, r.text
    finally:
        web.terminate()
        web.wait(10)
    status = json.loads(redress(env, "shops", "check", sid, "--json").stdout)  # exit 0: all is well
    assert status["ok"] and status["webhooks"]["missing"] == [] and len(status["webhooks"]["subscribed"]) == 12
    assert status["last_delivery"]["topic"] == "orders/paid"
    text = redress(env, "shops", "check", sid).stdout
    assert "Credentials: they work." in text and "Last delivery: orders/paid at" in text

    fake.tokens.clear()
    fake.token = "rotated"  # the merchant uninstalled the custom app: the token is refused
    p = redress(env, "shops", "check", sid, check=False)
    assert p.returncode == 1 and "Shopify refused the access token (HTTP 401)" in p.stdout + p.stderr
    p = redress(env, "shops", "check", "999", check=False)
    assert p.returncode == 1 and "no shop 999" in p.stderr


def test_reconcile_goes_on_past_a_failing_shop_and_names_it(env, httpserver):
    from datetime import UTC, datetime, timedelta

    from tests.support.fake_shopify import FakeShopify, order_node
    from tests.support.fake_woocommerce import FakeWooCommerce
    from tests.support.platforms import wc_order

    garbage = FakeShopify(httpserver)
    garbage.add(order_node(1, created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
    garbage.answer = "object"  # an object where the page of orders belongs
    fake = FakeWooCommerce(httpserver)
    old = (datetime.now(UTC) - timedelta(days=9)).strftime("%Y-%m-%dT%H:%M:%S")
    fake.add(wc_order(id=42, number="42", date_created_gmt=old, date_paid_gmt=old, date_modified_gmt=old))
    env = {**env, "REDRESS_ALLOW_PRIVATE_STORES": "1"}
    redress(env, "db", "upgrade")
    bad = json.loads(redress(env, "shops", "add", "shopify", "--domain", "garbage.myshopify.com", "--token",
                             "shpat_test", "--admin-url", garbage.endpoint).stdout)
    good = json.loads(redress(env, "shops", "add", "woocommerce", "--url", fake.url, "--key", "ck_test",
                              "--secret", "cs_test").stdout)
    p = redress(env, "reconcile", check=False)
    assert p.returncode == 1
    assert f"shop {bad['id']} (garbage.myshopify.com): Shopify answered an object where the page of orders belongs" \
        in p.stderr
    first, second = json.loads(p.stdout)
    assert first["shop_id"] == bad["id"] and first["error"]
    assert second["shop_id"] == good["id"] and second["finished"] and second["stored"] == 1
    listed = {x["id"]: x for x in json.loads(redress(env, "shops", "list", "--json").stdout)}
    assert listed[bad["id"]]["sync_error"] == first["error"] and listed[bad["id"]]["sync_error_at"]
    assert listed[bad["id"]]["last_synced_at"] is None
    assert listed[good["id"]]["sync_error"] is None and listed[good["id"]]["last_synced_at"]
