"""What a policy would have given for the shop's incidents of the last 90 days: how many, of what, at what cost."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plugin.compensation.ledger import context
from plugin.compensation.rules import Policy, plan
from plugin.storage.models import Incident, Shop


@dataclass
class Preview:
    incidents: int = 0
    compensated: int = 0
    waiting_for_approval: int = 0
    actions: Counter = field(default_factory=Counter)
    cost: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


def preview(session: Session, shop: Shop, policy: Policy, now: datetime, days: int = 90) -> Preview:
    out = Preview()
    incidents = session.execute(
        select(Incident).where(Incident.shop_id == shop.id, Incident.opened_at >= now - timedelta(days=days))
        .options(selectinload(Incident.order))
    ).scalars()
    for inc in incidents:
        out.incidents += 1
        # Judged as it stood when it ended (or now, if it is still open).
        planned = plan(policy, context(session, inc, inc.order, inc.resolved_at or now))
        if planned:
            out.compensated += 1
        for p in planned:
            out.actions[p.action] += 1
            out.cost[inc.order.currency or "?"] += p.value
            out.waiting_for_approval += p.needs_approval
    return out
