"""The `redress` commands a merchant or operator runs, in this process (Flask's test runner): the same output,
JSON and exit statuses as in a terminal. tests/end_to_end/test_cli.py runs the real executable."""

from __future__ import annotations

import json

import pytest

from plugin.app import create_app
from plugin.config import Config
from plugin.extensions import config, db, redis_conn, vault
from plugin.storage.crypto import generate_key
from plugin.storage.models import Shop
from tests.conftest import make_config
from tests.support.cli import redress
from tests.support.platforms import post_shopify, shopify_order

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def make_app(tmp_path, database_url, redis_server, monkeypatch):
    """`make_app(**settings)`: the application `redress` builds from its environment, with these settings.

    Each shares the database, the instance directory and the key ring, as the runs of one install do; private
    stores are refused unless allowed, and shops' own endpoints are on a port nothing listens on (no test
    reaches the internet)."""
    monkeypatch.delenv("REDRESS_ENCRYPTION_KEYS", raising=False)  # the key ring lives in the instance directory
    keys, made = [generate_key()], []

    def build(**settings):
        settings = {"encryption_keys": keys, "shopify_api_secret": "app-secret", "allow_private_stores": False,
                    "shopify_shop_url": "http://127.0.0.1:9", **settings}
        application = create_app(make_config(tmp_path, database_url, redis_server, **settings))
        if not made:
            redis_conn(application).flushall()
        made.append(application)
        return application

    yield build
    for application in made:
        application.extensions["redress.db"].dispose()


def test_woocommerce_shop_prints_its_webhook_url_and_refuses_private_hosts(make_app):
    app = make_app()
    redress(app, "db", "upgrade")
    r = redress(app, "shops", "add", "woocommerce", "--url", "http://127.0.0.1:9/", "--key", "ck_1",
                "--secret", "cs_1", check=False)
    assert r.exit_code == 1 and "private" in r.stderr
    app = make_app(allow_private_stores=True, public_url="https://redress.example.com")
    shop = json.loads(redress(app, "shops", "add", "woocommerce", "--url", "http://127.0.0.1:9/", "--key",
                              "ck_1", "--secret", "cs_1", "--webhook-secret", "given", "--no-api-refund").stdout)
    assert shop["webhook_url"] == f"https://redress.example.com/webhooks/woocommerce/{shop['id']}"
    assert "webhook_secret" not in shop  # given on the command line: never printed back


def test_keys_rotate_keeps_secrets_readable(make_app):
    app = make_app()
    redress(app, "db", "upgrade")
    redress(app, "shops", "add", "shopify", "--domain", "x.myshopify.com", "--token", "t", "--webhook-secret", "w")
    cfg = config(app)
    keyfile = cfg.instance_dir / "encryption_keys"
    before = ",".join(cfg.encryption_keys)
    redress(app, "keys", "rotate")
    after = keyfile.read_text().split(",")
    assert len(after) == 2 and after[1] == before
    # The next run reads the new ring from the instance directory.
    later = create_app(Config.from_env(instance_dir=cfg.instance_dir, database_url=cfg.database_url,
                                       redis_url=cfg.redis_url))
    try:
        with db(later).session() as s:
            shop = s.query(Shop).one()
            assert vault(later).decrypt(shop.webhook_secret) == "w"
            from cryptography.fernet import Fernet

            Fernet(after[0].encode()).decrypt(shop.webhook_secret.encode())  # under the newest key
    finally:
        later.extensions["redress.db"].dispose()


def test_sweep_runs_once_and_reports(make_app):
    app = make_app()
    redress(app, "db", "upgrade")
    out = json.loads(redress(app, "sweep").stdout)
    assert out == {"stuck_deliveries": 0, "orders_checked": 0, "compensations_enqueued": 0, "inbox_purged": 0}


def test_reconcile_finds_a_stalled_order_whose_webhooks_were_lost(make_app, httpserver):
    from datetime import UTC, datetime, timedelta

    from simulated.woocommerce import FakeWooCommerce
    from tests.support.platforms import wc_order

    fake = FakeWooCommerce(httpserver)
    old = (datetime.now(UTC) - timedelta(days=9)).strftime("%Y-%m-%dT%H:%M:%S")
    fake.add(wc_order(id=42, number="42", date_created_gmt=old, date_paid_gmt=old, date_modified_gmt=old,
                      meta_data=[]))
    app = make_app(allow_private_stores=True)
    redress(app, "db", "upgrade")
    good = json.loads(redress(app, "shops", "add", "woocommerce", "--url", fake.url, "--key", "ck_test",
                              "--secret", "cs_test").stdout)
    [result] = json.loads(redress(app, "reconcile", "--shop", str(good["id"])).stdout)
    assert result["finished"] and result["stored"] == 1
    redress(app, "worker", "--burst")
    [inc] = json.loads(redress(app, "incidents", "list", "--json").stdout)
    assert (inc["kind"], inc["responsibility"], inc["order"]["number"]) == ("fulfillment_late", "shop", "#42")

    other_name = fake.url.replace("localhost", "127.0.0.1")  # the same store under another name
    bad = json.loads(redress(app, "shops", "add", "woocommerce", "--url", other_name, "--key", "ck_wrong",
                             "--secret", "cs_wrong").stdout)
    r = redress(app, "reconcile", "--shop", str(bad["id"]), check=False)
    assert r.exit_code == 1 and "refused the REST keys" in r.stderr


def test_shops_add_warns_on_stderr_when_the_store_refuses_the_credentials(make_app, httpserver):
    from simulated.shopify import FakeShopify
    from simulated.woocommerce import FakeWooCommerce

    shopify, woo = FakeShopify(httpserver), FakeWooCommerce(httpserver)
    app = make_app(allow_private_stores=True)
    redress(app, "db", "upgrade")
    adds = {
        "good-shopify": ["shopify", "--domain", "good.myshopify.com", "--token", "shpat_test",
                         "--admin-url", shopify.endpoint],
        "bad-shopify": ["shopify", "--domain", "bad.myshopify.com", "--token", "shpat_revoked",
                        "--admin-url", shopify.endpoint],
        "good-woo": ["woocommerce", "--url", woo.url, "--key", "ck_test", "--secret", "cs_test"],
        "bad-woo": ["woocommerce", "--url", woo.url.replace("localhost", "127.0.0.1"), "--key", "ck_wrong",
                    "--secret", "cs_wrong"],
    }
    runs = {name: redress(app, "shops", "add", *args) for name, args in adds.items()}  # exit 0 every time
    for name, r in runs.items():
        shop = json.loads(r.stdout)  # the same JSON as ever, on stdout alone
        assert shop["api_token"].startswith("rdr_") and "warning" not in r.stdout, name
    assert runs["good-shopify"].stderr == "" and runs["good-woo"].stderr == ""
    assert "credentials do not work: Shopify refused the access token (HTTP 401)" in runs["bad-shopify"].stderr
    assert "credentials do not work: the store refused the REST keys (HTTP 401)" in runs["bad-woo"].stderr
    listed = json.loads(redress(app, "shops", "list", "--json").stdout)
    assert len(listed) == 4  # refused credentials still add the shop


def test_shops_check_tells_credentials_webhooks_and_the_last_delivery(make_app, httpserver):
    from simulated.shopify import FakeShopify

    fake = FakeShopify(httpserver)
    app = make_app(allow_private_stores=True, public_url="https://redress.example.com")
    redress(app, "db", "upgrade")
    shop = json.loads(redress(app, "shops", "add", "shopify", "--domain", "demo.myshopify.com", "--token",
                              "shpat_test", "--admin-url", fake.endpoint, "--webhook-secret", "whsec").stdout)
    sid = str(shop["id"])
    r = redress(app, "shops", "check", sid, "--json", check=False)
    status = json.loads(r.stdout)
    assert r.exit_code == 1 and "webhooks missing: ORDERS_CREATE" in r.stderr
    assert status["credentials"] == {"ok": True, "error": None} and status["last_delivery"] is None
    assert status["webhooks"]["subscribed"] == [] and "ORDERS_PAID" in status["webhooks"]["missing"]
    assert status["webhooks"]["url"] == "https://redress.example.com/webhooks/shopify"

    redress(app, "shops", "subscribe", sid)
    delivered = post_shopify(app.test_client(), shopify_order(), topic="orders/paid", secret="whsec",
                             domain="demo.myshopify.com", webhook_id="wh-9")
    assert delivered.status_code == 200, delivered.get_data(as_text=True)
    status = json.loads(redress(app, "shops", "check", sid, "--json").stdout)  # exit 0: all is well
    assert status["ok"] and status["webhooks"]["missing"] == [] and len(status["webhooks"]["subscribed"]) == 12
    assert status["last_delivery"]["topic"] == "orders/paid"
    text = redress(app, "shops", "check", sid).stdout
    assert "Credentials: they work." in text and "Last delivery: orders/paid at" in text

    fake.tokens.clear()
    fake.token = "rotated"  # the merchant uninstalled the custom app: the token is refused
    r = redress(app, "shops", "check", sid, check=False)
    assert r.exit_code == 1 and "Shopify refused the access token (HTTP 401)" in r.stdout + r.stderr
    r = redress(app, "shops", "check", "999", check=False)
    assert r.exit_code == 1 and "no shop 999" in r.stderr


def test_reconcile_goes_on_past_a_failing_shop_and_names_it(make_app, httpserver):
    from datetime import UTC, datetime, timedelta

    from simulated.shopify import FakeShopify, order_node
    from simulated.woocommerce import FakeWooCommerce
    from tests.support.platforms import wc_order

    garbage = FakeShopify(httpserver)
    garbage.add(order_node(1, created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
    garbage.answer = "object"  # an object where the page of orders belongs
    fake = FakeWooCommerce(httpserver)
    old = (datetime.now(UTC) - timedelta(days=9)).strftime("%Y-%m-%dT%H:%M:%S")
    fake.add(wc_order(id=42, number="42", date_created_gmt=old, date_paid_gmt=old, date_modified_gmt=old))
    app = make_app(allow_private_stores=True)
    redress(app, "db", "upgrade")
    bad = json.loads(redress(app, "shops", "add", "shopify", "--domain", "garbage.myshopify.com", "--token",
                             "shpat_test", "--admin-url", garbage.endpoint).stdout)
    good = json.loads(redress(app, "shops", "add", "woocommerce", "--url", fake.url, "--key", "ck_test",
                              "--secret", "cs_test").stdout)
    r = redress(app, "reconcile", check=False)
    assert r.exit_code == 1
    assert f"shop {bad['id']} (garbage.myshopify.com): Shopify answered an object where the page of orders belongs" \
        in r.stderr
    first, second = json.loads(r.stdout)
    assert first["shop_id"] == bad["id"] and first["error"]
    assert second["shop_id"] == good["id"] and second["finished"] and second["stored"] == 1
    listed = {x["id"]: x for x in json.loads(redress(app, "shops", "list", "--json").stdout)}
    assert listed[bad["id"]]["sync_error"] == first["error"] and listed[bad["id"]]["sync_error_at"]
    assert listed[bad["id"]]["last_synced_at"] is None
    assert listed[good["id"]]["sync_error"] is None and listed[good["id"]]["last_synced_at"]
