"""The compensation ledger: plan compensations for incidents, and move each through its states.

    planned → (awaiting_approval →) issuing → issued | failed        planned/awaiting_approval → cancelled

A compensation row, with its unique idempotency key, is committed before any platform call. The key
names the incident and the action, so planning the same incident again never adds a second refund or
coupon; the platform call carries the key (and a coupon's code is derived from it), so a retry after a
crash finds what the first try did instead of doing it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.incidents import family
from plugin.models import OPEN_INCIDENT_STATUSES, Compensation, Incident, Order, Shop
from plugin.policy import default_policy
from plugin.rules import IncidentContext, Policy, PolicyError, first_match, parse_policy, plan

log = logging.getLogger(__name__)
SPENT_STATES = ("planned", "awaiting_approval", "issuing", "issued")
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U: easy to read aloud and type


class LedgerError(ValueError):
    """An operation the compensation's state does not allow; the message says why."""


def coupon_code(key: str) -> str:
    """A short, readable code derived from the idempotency key, e.g. SORRY-7KQ2-MX."""
    n = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    chars = []
    for _ in range(6):
        n, r = divmod(n, len(CODE_ALPHABET))
        chars.append(CODE_ALPHABET[r])
    return f"SORRY-{''.join(chars[:4])}-{''.join(chars[4:])}"


_parsed: dict[str, Policy] = {}


def _policy(shop: Shop) -> Policy:
    """The shop's parsed policy; parsed once per distinct policy (a batch plans many incidents of one shop)."""
    raw = shop.policy or default_policy()
    key = json.dumps({"rules": raw.get("rules"), "caps": raw.get("caps")}, sort_keys=True, default=str)
    if key in _parsed:
        return _parsed[key]
    try:
        policy = parse_policy(raw)
    except PolicyError:
        log.warning("shop %s has an invalid compensation policy; using the default", shop.id, exc_info=True)
        policy = parse_policy(default_policy())
    if len(_parsed) > 1000:
        _parsed.clear()
    _parsed[key] = policy
    return policy


def _counts_orders(policy: Policy) -> bool:
    return any(r.enabled and (r.when.min_customer_orders is not None or r.when.max_customer_orders is not None)
               for r in policy.rules)


def context(session: Session, incident: Incident, order: Order, now: datetime,
            count_orders: bool = True) -> IncidentContext:
    facts = order.facts or {}
    since = incident.late_since or incident.opened_at
    customer_orders = 1
    if count_orders and order.customer_email:
        customer_orders = session.execute(
            select(func.count()).select_from(Order).where(Order.shop_id == order.shop_id,
                                                           Order.customer_email == order.customer_email)
        ).scalar_one()
    return IncidentContext(
        kind=incident.kind, responsibility=incident.responsibility,
        delay_days=Decimal(max((now - since).total_seconds(), 0) / 86400).quantize(Decimal("0.01")),
        total=order.total or Decimal(0), shipping=order.shipping or Decimal(0), currency=order.currency or "USD",
        customer_orders=customer_orders, country=facts.get("country"), carrier=order.carrier,
        tags=frozenset(facts.get("tags") or []),
    )


def _given(order: Order) -> Decimal:
    """What the order's incidents already got (the pipeline loads incidents with their compensations)."""
    return sum((c.value or Decimal(0) for i in order.incidents for c in i.compensations if c.state in SPENT_STATES),
               Decimal(0))


def idempotency_key(shop: Shop, order: Order, incident: Incident, action: str) -> str:
    """Names the incident without its database id (no flush needed): order, episode and when it opened."""
    opened = f"{incident.opened_at.timestamp():.6f}"
    return f"rdr-{shop.id}-{order.platform_order_id}-{family(incident.kind)}-{opened}-{action}"


def _spent_this_month(session: Session, shop_id: int, now: datetime) -> Decimal:
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return session.execute(
        select(func.coalesce(func.sum(Compensation.value), 0)).join(Incident)
        .where(Incident.shop_id == shop_id, Compensation.state.in_(SPENT_STATES),
               Compensation.created_at >= month_start)
    ).scalar_one()


def plan_for_incident(session: Session, incident: Incident, order: Order, shop: Shop,
                      now: datetime) -> list[Compensation]:
    """Add the compensations the shop's rules call for that this incident does not have yet."""
    if incident.status not in OPEN_INCIDENT_STATUSES and incident.status != "resolved":
        return []
    policy = _policy(shop)
    ctx = context(session, incident, order, now, count_orders=_counts_orders(policy))
    if first_match(policy, ctx) is None:
        return []  # most incidents (payment, customer) end here, without a query
    spent = _spent_this_month(session, shop.id, now) if policy.monthly_amount is not None else 0
    planned = plan(policy, ctx, already_given=_given(order), spent_this_month=Decimal(spent))
    have = {c.action for c in incident.compensations}
    new = []
    for p in planned:
        if p.action in have:
            continue  # one of each action per incident, whatever happens later
        key = idempotency_key(shop, order, incident, p.action)
        comp = Compensation(
            action=p.action, amount=p.amount, percent=p.percent, currency=ctx.currency, value=p.value,
            valid_days=p.valid_days, rule=p.rule, notes=list(p.notes), idempotency_key=key,
            state="awaiting_approval" if p.needs_approval else "planned",
            code=coupon_code(key) if p.action.startswith("coupon") else None, created_at=now, updated_at=now,
        )
        incident.compensations.append(comp)
        new.append(comp)
    if new:
        settle_incident(incident)
    return new


def settle_incident(incident: Incident) -> None:
    """An open incident's status follows its compensations; resolved and dismissed ones keep theirs."""
    if incident.status not in OPEN_INCIDENT_STATUSES:
        return
    states = {c.state for c in incident.compensations}
    if "awaiting_approval" in states:
        incident.status = "awaiting_approval"
    elif states & {"planned", "issuing"}:
        incident.status = "compensating"
    else:
        incident.status = "open"


def approve(session: Session, comp: Compensation) -> None:
    if comp.state != "awaiting_approval":
        raise LedgerError(f"compensation {comp.id} is {comp.state}, not awaiting approval")
    comp.state = "planned"
    comp.notes = [*comp.notes, "approved"]
    settle_incident(comp.incident)


def cancel(session: Session, comp: Compensation) -> None:
    if comp.state not in ("planned", "awaiting_approval"):
        raise LedgerError(f"compensation {comp.id} is {comp.state}: only planned or waiting ones can be cancelled")
    comp.state = "cancelled"
    settle_incident(comp.incident)


def stuck(session: Session, now: datetime, older_than: timedelta = timedelta(minutes=10)) -> list[int]:
    """Compensations a lost or crashed job left behind, to enqueue again."""
    return list(session.execute(
        select(Compensation.id).where(Compensation.state.in_(("planned", "issuing")),
                                      Compensation.updated_at < now - older_than)
    ).scalars())
