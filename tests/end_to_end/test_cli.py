"""The real `redress` executable, end to end: a store connected, a webhook through the real web server, the
worker, the incident listed; and the exit statuses a shell sees. tests/cli/ runs the other commands in-process."""

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
