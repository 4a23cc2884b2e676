"""The browser tests' web server (with a fake Shopify store) and page (Debian's Chromium under Playwright)."""

from __future__ import annotations

import os

import pytest

from plugin.storage.crypto import generate_key
from simulated.shopify import FakeShopify
from tests.support.browser import launch
from tests.support.pg import _free_port
from tests.support.work import start_web

playwright = pytest.importorskip("playwright.sync_api")
SECRET = "app-secret-for-tests"


@pytest.fixture
def server(tmp_path, redis_server, sqlite_url, httpserver):
    fake = FakeShopify(httpserver)
    for order_id in ("1001", "1002"):
        fake.add_payable_order(order_id, total="100.00", shipping="10.00")
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": sqlite_url, "REDIS_URL": redis_server,
           "REDRESS_INSTANCE_DIR": str(tmp_path / "instance"), "REDRESS_ENCRYPTION_KEYS": generate_key(),
           "REDRESS_SECRET_KEY": "browser-test", "SHOPIFY_API_KEY": "app-key", "SHOPIFY_API_SECRET": SECRET,
           "SHOPIFY_SHOP_URL": fake.base, "REDRESS_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "REDRESS_ALLOW_PRIVATE_STORES": "1", "REDRESS_PLATFORM_ATTEMPTS": "2", "REDRESS_PLATFORM_TIMEOUT": "2"}
    web = start_web(env, port)
    yield f"http://127.0.0.1:{port}", env, fake
    web.terminate()
    web.wait(10)


@pytest.fixture
def page():
    with playwright.sync_playwright() as p:
        browser = launch(p)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        yield pg
        browser.close()
