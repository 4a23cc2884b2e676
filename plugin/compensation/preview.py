"""What a policy would have given for the shop's incidents of the last 90 days: how many, of what, at what cost.

An offer counts once, as "choice of <its options>", at the cost of its dearest option (what it may cost at most);
it waits for approval when its dearest option would."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plugin.compensation.ledger import context
from plugin.compensation.rules import Planned, Policy, plan, plan_offer
from plugin.storage.models import Incident, Shop


@dataclass
class Preview:
    incidents: int = 0
    compensated: int = 0
    waiting_for_approval: int = 0
    offered: int = 0  # incidents whose customer would choose among options
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
        ctx = context(session, inc, inc.order, inc.resolved_at or now)
        planned = plan(policy, ctx)
        if planned:
            out.compensated += 1
        for p in planned:
            out.actions[p.action] += 1
            out.cost[inc.order.currency or "?"] += p.value
            out.waiting_for_approval += p.needs_approval
        offer = plan_offer(policy, ctx)
        if offer is not None and offer[1]:
            _count_offer(out, offer[1], inc.order.currency or "?")
    return out


def _count_offer(out: Preview, options: list[Planned], currency: str) -> None:
    out.compensated += 1
    out.offered += 1
    out.actions["choice of " + " or ".join(p.action for p in options)] += 1
    dearest = max(options, key=lambda p: p.value)
    out.cost[currency] += dearest.value
    out.waiting_for_approval += dearest.needs_approval
