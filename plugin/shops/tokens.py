"""Platform access for jobs, with expiring tokens refreshed before they run out, one refresh per shop."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy.orm import Session

import connectors
from connectors.base import ShopAccess
from plugin.extensions import config, redis_conn, vault
from plugin.storage.crypto import Vault
from plugin.storage.models import Shop
from plugin.storage.queue import exclusive

REFRESH_BEFORE = timedelta(minutes=5)


def shop_access(shop: Shop, keys: Vault, api_version: str) -> ShopAccess:
    """The shop's stored credentials, decrypted, as a connector takes them."""
    credentials = json.loads(keys.decrypt(shop.credentials) or "{}")
    return ShopAccess(domain=shop.domain, credentials=credentials, admin_url=shop.admin_url,
                      api_version=api_version)


def current_access(app: Flask, session: Session, shop: Shop) -> ShopAccess:
    cfg = config(app)
    access = shop_access(shop, vault(app), cfg.shopify_api_version)
    expires = access.credentials.get("expires_at")
    if not expires or datetime.fromisoformat(expires) - REFRESH_BEFORE > datetime.now(UTC):
        return access
    conn = redis_conn(app)
    # A refresh token is single-use: two workers refreshing at once would lock the shop out.
    with exclusive(conn, f"redress:token-refresh:{shop.id}", 60, wait=30) as mine:
        if not mine:
            raise TimeoutError(f"another worker has been refreshing the token of shop {shop.id} for 30 s")
        session.refresh(shop)  # another worker may have refreshed while we waited
        access = shop_access(shop, vault(app), cfg.shopify_api_version)
        if datetime.fromisoformat(access.credentials["expires_at"]) - REFRESH_BEFORE > datetime.now(UTC):
            return access
        fresh = connectors.get(shop.platform).refresh_credentials(
            access, cfg.shopify_api_key or "", cfg.shopify_api_secret or "", cfg.shopify_shop_url)
        shop.credentials = vault(app).encrypt(json.dumps({**access.credentials, **fresh}))
        session.commit()
        return shop_access(shop, vault(app), cfg.shopify_api_version)
