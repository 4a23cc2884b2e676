"""After an install or connect: subscribe the shop's webhooks to this Redress."""

from __future__ import annotations

import connectors
from jobs import get_app
from plugin.extensions import config, db, vault
from plugin.shops.connect import shop_json
from plugin.shops.tokens import current_access
from plugin.storage.models import Shop


def subscribe(shop_id: int) -> list[str]:
    app = get_app()
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        if shop is None or not shop.active:
            return []
        url = shop_json(shop, config(app))["webhook_url"]
        return connectors.get(shop.platform).subscribe_webhooks(
            current_access(app, s, shop), url, secret=vault(app).decrypt(shop.webhook_secret),
            retry=config(app).platform_retry())
