"""The demo's two shops in this instance: connected to the simulated stores the first time, pointed at this
run's stores afterwards. The Shopify shop's first connection is the demo's anchor: every replay tells the
same day, so its deliveries are duplicates of the first run's."""

from __future__ import annotations

import copy
import dataclasses
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from plugin.demo.day import DEMO_OWNER, SHOPIFY_DOMAIN, SHOPIFY_NAME, TIMEZONE, WOOCOMMERCE_NAME
from plugin.demo.errors import DemoError
from plugin.demo.stores import SHOPIFY_TOKEN, WOO_KEY, WOO_SECRET, Stores
from plugin.extensions import config, db, vault
from plugin.shops.connect import add_shopify, add_woocommerce, check_store_url
from plugin.storage.models import Shop
from plugin.vocabulary import Platform

TEAM = "equipo@ceramica-lumbre.example"


@dataclass(frozen=True)
class DemoShops:
    shopify_id: int
    woocommerce_id: int
    shopify_secret: str
    woocommerce_secret: str
    anchor: datetime
    created: bool  # connected by this run (the first)


def is_demo(shop: Shop) -> bool:
    return shop.owner_email == DEMO_OWNER


def any_real_shop(session: Session) -> bool:
    """Whether the instance has a shop that is not the demo's (one read, however many shops there are)."""
    q = select(Shop.id).where(or_(Shop.owner_email.is_(None), Shop.owner_email != DEMO_OWNER)).limit(1)
    return session.execute(q).first() is not None


def find(session: Session) -> tuple[Shop | None, Shop | None]:
    shopify = session.execute(select(Shop).where(Shop.platform == Platform.SHOPIFY,
                                                 Shop.domain == SHOPIFY_DOMAIN)).scalar_one_or_none()
    if shopify is not None and not is_demo(shopify):
        # A real shop of that name was installed: the demo never touches it.
        raise DemoError(f"a shop {SHOPIFY_DOMAIN} not made by the demo is connected here: the demo will not run")
    woo = session.execute(select(Shop).where(Shop.platform == Platform.WOOCOMMERCE, Shop.owner_email == DEMO_OWNER)
                          ).scalars().first()
    return shopify, woo


def demo_policy(policy: dict[str, Any], contact: str) -> dict[str, Any]:
    """The default policy, with a shop that works every day (so the demo's story reads the same on any
    weekday) and quiet hours of a minute (so its messages go out at any hour)."""
    out = copy.deepcopy(policy)
    out["timing"] = {**out["timing"], "business_days": [0, 1, 2, 3, 4, 5, 6]}
    out["contact"] = {**out["contact"], "email": contact}
    out["communication"] = {**out["communication"], "quiet_hours": {"from": "04:00", "to": "04:01"},
                            "team_emails": [TEAM]}
    return out


def connect(app: Flask, stores: Stores) -> DemoShops:
    cfg = dataclasses.replace(config(app), allow_private_stores=True)  # the simulated stores are local
    keys = vault(app)
    with db(app).session() as s:
        shopify, woo = find(s)
        created = shopify is None or woo is None
        if shopify is None:
            shopify, _, _ = add_shopify(s, keys, cfg, domain=SHOPIFY_DOMAIN, token=SHOPIFY_TOKEN,
                                        admin_url=stores.shopify.endpoint, timezone=TIMEZONE,
                                        webhook_secret=secrets.token_urlsafe(24), owner_email=DEMO_OWNER)
            shopify.name = SHOPIFY_NAME
            shopify.policy = demo_policy(shopify.policy, "hola@ceramica-lumbre.example")
        if woo is None:
            woo, _, _ = add_woocommerce(s, keys, cfg, url=stores.woocommerce.url, key=WOO_KEY, secret=WOO_SECRET,
                                        timezone=TIMEZONE, webhook_secret=secrets.token_urlsafe(24),
                                        owner_email=DEMO_OWNER)
            woo.name = WOOCOMMERCE_NAME
            woo.policy = demo_policy(woo.policy, "hola@teycuenco.example")
        # Each run serves the stores on a port of its own: the shops follow them.
        shopify.admin_url = stores.shopify.endpoint
        shopify.credentials = keys.encrypt(json.dumps({"access_token": SHOPIFY_TOKEN}))
        woo.domain = check_store_url(stores.woocommerce.url, True)
        woo.credentials = keys.encrypt(json.dumps({"consumer_key": WOO_KEY, "consumer_secret": WOO_SECRET,
                                                   "api_refund": True}))
        shopify.active = woo.active = True
        s.commit()
        anchor = shopify.created_at if shopify.created_at.tzinfo else shopify.created_at.replace(tzinfo=UTC)
        return DemoShops(shopify.id, woo.id, keys.decrypt(shopify.webhook_secret) or "",
                         keys.decrypt(woo.webhook_secret) or "", anchor.replace(second=0, microsecond=0), created)
