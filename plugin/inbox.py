"""The inbox: store a verified delivery exactly once, keyed by its delivery key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from plugin.models import Shop, WebhookDelivery


def store(session: Session, *, shop_id: int | None, platform: str, topic: str, key: str, body: bytes,
          now: datetime) -> bool:
    """Insert the delivery; False when the same key was stored before (a duplicate)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(WebhookDelivery)
        .values(shop_id=shop_id, platform=platform, topic=topic, delivery_key=key, body=body,
                received_at=now, attempts=0)
        .on_conflict_do_nothing(index_elements=["platform", "delivery_key"])
        .returning(WebhookDelivery.id)
    )
    inserted = session.execute(stmt).scalar_one_or_none()
    return inserted is not None


def find_shop(session: Session, platform: str, *, shop_id: int | None = None,
              domain: str | None = None) -> Shop | None:
    q = select(Shop).where(Shop.platform == platform)
    q = q.where(Shop.id == shop_id) if shop_id is not None else q.where(Shop.domain == domain)
    return session.execute(q).scalar_one_or_none()
