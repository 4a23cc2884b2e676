"""Webhook subscriptions on both platforms: every topic once, however often it is asked."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import connectors
from connectors.shopify.vocabulary import WEBHOOK_TOPICS
from plugin.app import create_app
from plugin.extensions import config, db, vault
from plugin.shops.tokens import shop_access
from plugin.storage.models import Shop
from simulated.shopify import FakeShopify
from simulated.woocommerce import FakeWooCommerce
from tests.support.cli import redress
from tests.support.platforms import connect_shopify, connect_woocommerce


def access(app, shop_id):
    with db(app).session() as s:
        return shop_access(s.get(Shop, shop_id), vault(app), "2026-04")


def test_shopify_topics_are_subscribed_once_with_the_uri_field(app, httpserver):
    fake = FakeShopify(httpserver)
    shop_id, _ = connect_shopify(app, admin_url=fake.endpoint)
    url = "https://redress.example.com/webhooks/shopify"
    made = connectors.get("shopify").subscribe_webhooks(access(app, shop_id), url)
    assert len(made) == len(WEBHOOK_TOPICS) == 12
    assert {t for t, u in fake.subscriptions} == set(WEBHOOK_TOPICS) and {u for _, u in fake.subscriptions} == {url}
    assert connectors.get("shopify").subscribe_webhooks(access(app, shop_id), url) == []
    assert len(fake.subscriptions) == 12


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_woocommerce_webhooks_are_created_with_the_shops_secret_from_the_command_line(app, httpserver):
    fake = FakeWooCommerce(httpserver)
    shop_id, _ = connect_woocommerce(app, url=fake.url, secret="the-webhook-secret")
    # The same install, reached at its public address.
    public = create_app(replace(config(app), public_url="https://redress.example.com", allow_private_stores=True))
    try:
        for expected in (4, 0):
            p = redress(public, "shops", "subscribe", str(shop_id), check=False)
            assert p.exit_code == 0, p.stderr
            assert len(json.loads(p.stdout)["created"]) == expected
    finally:
        public.extensions["redress.db"].dispose()
    assert sorted(h["topic"] for h in fake.webhooks) == ["order.created", "order.deleted", "order.restored",
                                                         "order.updated"]
    assert {h["delivery_url"] for h in fake.webhooks} == {f"https://redress.example.com/webhooks/woocommerce/{shop_id}"}
    assert {h["secret"] for h in fake.webhooks} == {"the-webhook-secret"}
    assert "the-webhook-secret" not in p.stdout
