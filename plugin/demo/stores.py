"""The demo's two simulated stores, served from this process on one local port."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from plugin.demo.day import SHOPIFY_DOMAIN, Story
from plugin.demo.payloads import shopify_id, woocommerce_order
from plugin.vocabulary import Platform
from simulated.server import LocalServer
from simulated.shopify import FakeShopify
from simulated.woocommerce import FakeWooCommerce

SHOPIFY_TOKEN = "shpat_redress_demo"
WOO_KEY, WOO_SECRET = "ck_redress_demo", "cs_redress_demo"


@dataclass
class Stores:
    server: LocalServer
    shopify: FakeShopify
    woocommerce: FakeWooCommerce

    def stop(self) -> None:
        self.server.stop()


def start_stores(host: str = "127.0.0.1", port: int = 0) -> Stores:
    server = LocalServer(host, port)
    shopify = FakeShopify(server, token=SHOPIFY_TOKEN)
    shopify.shop_domain = SHOPIFY_DOMAIN
    woo = FakeWooCommerce(server, key=WOO_KEY, secret=WOO_SECRET)
    server.start()
    return Stores(server, shopify, woo)


def seed(stores: Stores, stories: list[Story], anchor: datetime) -> None:
    """The stores' side of the stories: what each order was paid, so refunds have something to refund."""
    for story in stories:
        if story.platform == Platform.SHOPIFY:
            if story.payment == "paid" and story.cancelled != "customer":
                stores.shopify.add_payable_order(shopify_id(story), str(story.total), str(story.shipping), "EUR")
        else:
            stores.woocommerce.add(woocommerce_order(story, anchor))


def made(stores: Stores) -> dict[str, int]:
    """Refunds and coupons the simulated stores have made."""
    shopify_refunds = sum(len(o["refunds"]) for o in stores.shopify.payable.values())
    woo_refunds = sum(len(r) for r in stores.woocommerce.refunds.values())
    return {"refunds": shopify_refunds + woo_refunds,
            "coupons": len(stores.shopify.discounts) + len(stores.woocommerce.coupons)}
