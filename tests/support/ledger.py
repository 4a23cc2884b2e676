"""Orders with an incident planned by the shop's own rules, straight in the database, for money tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from plugin.compensation.ledger import plan_for_incident
from plugin.extensions import db
from plugin.storage.models import Compensation, Incident, Order, Shop

NOW = datetime.now(UTC).replace(microsecond=0)
_ids = itertools.count(70000)


def shop_rule(*actions: dict, cap: str = "30", **rule) -> dict:
    return {"caps": {"per_order_percent_of_total": cap, "approval_above": None},
            "rules": [{"name": "Shop fault", "when": {"responsibility": ["shop"]}, "then": list(actions),
                       "approval": "never", **rule}]}


def set_policy(app, shop_id: int, policy: dict) -> None:
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        shop.policy = {**shop.policy, **policy}
        s.commit()


def late_order(app, shop_id: int, total: Decimal, shipping: Decimal) -> tuple[str, list[int]]:
    """A paid order the shop shipped late, planned by the shop's rules; returns its id and compensations."""
    n = str(next(_ids))
    with db(app).session() as s:
        shop = s.get(Shop, shop_id)
        order = Order(shop_id=shop_id, platform_order_id=n, number=f"#{n}", total=total, shipping=shipping,
                      currency="USD", customer_email="ana@example.com",
                      facts={"customer_id": "gid://shopify/Customer/7", "country": "ES"})
        incident = Incident(shop_id=shop_id, order=order, kind="fulfillment_late", responsibility="shop",
                            status="open", evidence=[], opened_at=NOW, late_since=NOW - timedelta(days=2))
        s.add_all([order, incident])
        s.flush()
        planned = plan_for_incident(s, incident, order, shop, NOW)
        s.commit()
        return n, [c.id for c in planned]


def ledger(app, ids: list[int]) -> list[Compensation]:
    with db(app).session() as s:
        return list(s.execute(select(Compensation).where(Compensation.id.in_(ids))).scalars())
