"""Re-assess orders whose next deadline has passed. Reads only due rows (indexed `next_check_at`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plugin.incidents.detect import assess
from plugin.intake.pipeline import apply_assessment, timing_for
from plugin.orders.facts import OrderFacts
from plugin.storage.models import Compensation, Order, Shop

BATCH = 1000


def sweep_due_orders(session: Session, now: datetime, limit: int = BATCH) -> tuple[int, list[Compensation]]:
    """Re-assess up to `limit` due orders of active shops; returns how many, and the compensations newly
    planned. An uninstalled shop's orders wait, unread: with no webhooks coming in, what Redress knows of
    them is stale, and a stall found in it would write to customers about parcels long since delivered."""
    q = (select(Order).join(Shop, Shop.id == Order.shop_id)
         .where(Order.next_check_at.is_not(None), Order.next_check_at <= now, Shop.active.is_(True))
         .order_by(Order.next_check_at).limit(limit)
         .options(selectinload(Order.incidents), selectinload(Order.shop))
         .with_for_update(skip_locked=True, of=Order))
    orders = list(session.execute(q).scalars())
    planned: list[Compensation] = []
    for order in orders:
        facts = OrderFacts.from_json(order.facts)
        applied = apply_assessment(session, order, order.shop, assess(facts, timing_for(order.shop), now, "sweep"),
                                   now)
        planned.extend(applied.compensations)
    return len(orders), planned
