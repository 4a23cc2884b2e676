"""The webhook secrets of shops, by platform and domain or id, cached briefly for the webhook endpoints."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from plugin.storage.crypto import Vault
from plugin.storage.models import Shop

SHOP_CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class ShopKey:
    id: int
    active: bool
    webhook_secret: str | None  # decrypted


class ShopSecrets:
    """Shop id and webhook secret by (platform, domain) or (platform, id), cached briefly.

    Unknown shops are cached too, so a flood of deliveries for strangers never reaches the database
    more than once per interval. A changed secret is seen within SHOP_CACHE_SECONDS.
    """

    def __init__(self, engine: Engine, vault: Vault, ttl: float = SHOP_CACHE_SECONDS):
        self.engine, self.vault, self.ttl = engine, vault, ttl
        self._cache: dict[tuple, tuple[float, ShopKey | None]] = {}
        self._lock = threading.Lock()

    def get(self, platform: str, *, domain: str | None = None, shop_id: int | None = None) -> ShopKey | None:
        key = (platform, domain, shop_id)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
        q = select(Shop.id, Shop.active, Shop.webhook_secret).where(Shop.platform == platform)
        q = q.where(Shop.id == shop_id) if shop_id is not None else q.where(Shop.domain == domain)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        value = ShopKey(row.id, row.active, self.vault.decrypt(row.webhook_secret)) if row else None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (now + self.ttl, value)
        return value

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
