"""The compensation ledger: plan compensations for incidents, and move each through its states.

    planned → (awaiting_approval →) issuing → issued | failed        planned/awaiting_approval → cancelled

A compensation row, with its unique idempotency key, is committed before any platform call. The key
names the incident and the action, so planning the same incident again never adds a second refund or
coupon; the platform call carries the key (and a coupon's code is derived from it), so a retry after a
crash finds what the first try did instead of doing it again.

When the deciding rule makes an offer, planning records the offer on the incident instead (once: what the
customer was shown stays as shown) and `plan_chosen` plans the option taken (`plugin.compensation.offers`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Collection
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from plugin.compensation.policy import default_policy
from plugin.compensation.rules import (
    IncidentContext,
    Planned,
    Policy,
    PolicyError,
    RuleAction,
    first_match,
    offered,
    parse_policy,
    plan,
    plan_offer,
    plan_option,
    price,
)
from plugin.orders.facts import iso
from plugin.orders.money import fmt
from plugin.storage.models import Compensation, Incident, Order, Shop
from plugin.storage.queue import COMPENSATE
from plugin.vocabulary import (
    OPEN_STATUSES,
    SPENT_STATES,
    WITHDRAWABLE_STATES,
    CompensationAction,
    CompensationState,
    IncidentStatus,
    Kind,
)

log = logging.getLogger(__name__)
C = CompensationState
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
    return f"rdr-{shop.id}-{order.platform_order_id}-{Kind(incident.kind).family}-{opened}-{action}"


CHOICE_KEY = re.compile(r"-choice(\d+)\.(\d+)-")


def choice_key(shop: Shop, order: Order, incident: Incident, choice: int, index: int, action: str) -> str:
    """The key of an offered option's compensation: it counts the choices made and names the option taken,
    so choosing again never meets the key of an earlier choice."""
    return idempotency_key(shop, order, incident, f"choice{choice}.{index}-{action}")


def chosen(comp: Compensation) -> bool:
    """Whether this compensation is an offered option the customer (or the default) took."""
    return CHOICE_KEY.search(comp.idempotency_key or "") is not None


def _spent_this_month(session: Session, shop_id: int, now: datetime) -> Decimal:
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spent = session.execute(
        select(func.coalesce(func.sum(Compensation.value), 0)).join(Incident)
        .where(Incident.shop_id == shop_id, Compensation.state.in_(SPENT_STATES),
               Compensation.created_at >= month_start)
    ).scalar_one()
    return Decimal(spent or 0)


def plan_for_incident(session: Session, incident: Incident, order: Order, shop: Shop,
                      now: datetime) -> list[Compensation]:
    """Add the compensations the shop's rules call for that this incident does not have yet."""
    if incident.status not in OPEN_STATUSES and incident.status != IncidentStatus.RESOLVED:
        return []
    policy = _policy(shop)
    ctx = context(session, incident, order, now, count_orders=_counts_orders(policy))
    rule = first_match(policy, ctx)
    if rule is None:
        return []  # most incidents (payment, customer) end here, without a query
    spent = _spent_this_month(session, shop.id, now) if policy.monthly_amount is not None else Decimal(0)
    if rule.offer is not None:
        if incident.offer is None:  # made once: what the customer was shown stays as shown
            _make_offer(incident, policy, ctx, _given(order), spent, now)
        return []  # nothing is planned before the customer (or the default) chooses
    # One of each action per incident, whatever happens later (but a verdict a person changed may owe again
    # what an earlier verdict's withdrawal took back); what it has counts once, as already given.
    have = frozenset(c.action for c in incident.compensations if not _withdrawn_by_verdict(c))
    planned = plan(policy, ctx, already_given=_given(order), spent_this_month=spent, have=have)
    new = [_record(incident, p, _rule_key(shop, order, incident, p.action), ctx.currency, now) for p in planned]
    if new:
        settle_incident(incident)
    return new


VERDICT_WITHDRAWN = "withdrawn: the verdict changed"


def _withdrawn_by_verdict(comp: Compensation) -> bool:
    return comp.state == C.CANCELLED and VERDICT_WITHDRAWN in (comp.notes or [])


def _verdicts(incident: Incident) -> int:
    """How many times a person gave this incident a verdict (the evidence keeps each)."""
    return sum(1 for e in incident.evidence if isinstance(e, dict) and e.get("verdict"))


def _rule_key(shop: Shop, order: Order, incident: Incident, action: str) -> str:
    """A rule's compensation is named by its action, and after a person's verdicts by how many there were, so
    one owed again after a verdict went back and forth never meets the key of the one withdrawn."""
    n = _verdicts(incident)
    return idempotency_key(shop, order, incident, action if n == 0 else f"{action}-v{n}")


def _rule_planned(shop: Shop, order: Order, incident: Incident, comp: Compensation) -> bool:
    base = idempotency_key(shop, order, incident, comp.action)
    key = comp.idempotency_key or ""
    return key == base or re.fullmatch(re.escape(base) + r"-v\d+", key) is not None


def replan(session: Session, incident: Incident, now: datetime) -> tuple[list[Compensation], list[Compensation]]:
    """After a person changed the verdict: what the rules owe now is planned, and what the rules planned
    before that they no longer owe (an action the matching rule does not take) is withdrawn unless it is
    being issued or was. A customer's choice and a person's decision stay; an offer not chosen yet that the
    rules no longer make is withdrawn. Returns (planned, withdrawn)."""
    order, shop = incident.order, incident.order.shop
    policy = _policy(shop)
    ctx = context(session, incident, order, now, count_orders=_counts_orders(policy))
    rule = first_match(policy, ctx)
    owed = {a.action for a in rule.then} if rule is not None else set()
    withdrawn = [c for c in incident.compensations
                 if _rule_planned(shop, order, incident, c) and c.action not in owed and withdraw(session, c, now)]
    for c in withdrawn:
        c.notes = [*c.notes, VERDICT_WITHDRAWN]
    if incident.offer is not None and incident.offer_chosen is None and (
            rule is None or rule.offer is None or rule.name != incident.offer.get("rule")):
        incident.offer = None  # the customer can no longer choose what the rules no longer offer
    planned = plan_for_incident(session, incident, order, shop, now)
    settle_incident(incident)
    return planned, withdrawn


def _record(incident: Incident, p: Planned, key: str, currency: str, now: datetime) -> Compensation:
    comp = Compensation(
        action=p.action, amount=p.amount, percent=p.percent, currency=currency, value=p.value,
        valid_days=p.valid_days, rule=p.rule, notes=list(p.notes), idempotency_key=key,
        state=C.AWAITING_APPROVAL if p.needs_approval else C.PLANNED,
        code=coupon_code(key) if CompensationAction(p.action).is_coupon else None, created_at=now, updated_at=now,
    )
    incident.compensations.append(comp)
    incident.next_message_at = now  # the customer hears of it, and the team of what waits for it
    return comp


# -- offers: the stored offer is {"rule", "options": [{"action", "amount", "percent", "valid_days", "currency"}],
#    "default_after_days", "deadline"}, its money already fitted to the caps; the first option is the default.


def _make_offer(incident: Incident, policy: Policy, ctx: IncidentContext, given: Decimal, spent: Decimal,
                now: datetime) -> None:
    made = plan_offer(policy, ctx, already_given=given, spent_this_month=spent)
    if made is None or not made[1]:
        return  # every option is used up by the caps: nothing to offer
    rule, options = made
    days = rule.offer.default_after_days if rule.offer else 7
    stored = [_option_json(p, ctx.currency) for p in options]
    incident.offer = {"rule": rule.name, "options": stored, "default_after_days": days,
                      "deadline": iso(now + timedelta(days=days))}
    what = " or ".join(describe_option(o) for o in stored)
    incident.evidence = [*incident.evidence, {
        "at": iso(now), "source": "offer",
        "fact": f"offered the customer a choice of {what}; the first is given if nothing is chosen in {days} days"}]


def _option_json(p: Planned, currency: str) -> dict[str, Any]:
    return {"action": str(p.action), "amount": fmt(p.amount, currency),
            "percent": None if p.percent is None else format(p.percent.normalize(), "f"),
            "valid_days": p.valid_days, "currency": currency}


def describe_option(option: dict[str, Any]) -> str:
    """An offered option in the incident's evidence, e.g. "refund shipping of 7.50 EUR" or "coupon percent of 15 %"."""
    action = str(option.get("action", "")).replace("_", " ")
    if option.get("action") == CompensationAction.COUPON_PERCENT or option.get("amount") is None:
        return f"{action} of {option.get('percent')} %"
    return f"{action} of {option.get('amount')} {option.get('currency')}"


def plan_chosen(session: Session, incident: Incident, index: int, choice: int, now: datetime) -> Compensation | None:
    """Plan the offered option `index` taken as the `choice`-th choice, under the caps and the approval of its
    rule as they stand now, never above what was offered; None when the caps leave nothing for it."""
    order = incident.order
    shop = order.shop
    policy = _policy(shop)
    ctx = context(session, incident, order, now, count_orders=False)
    option = _offered(incident.offer or {}, index, ctx)
    spent = _spent_this_month(session, shop.id, now) if policy.monthly_amount is not None else Decimal(0)
    p = plan_option(policy, ctx, option, already_given=_given(order), spent_this_month=spent)
    if p is None:
        return None
    return _record(incident, p, choice_key(shop, order, incident, choice, index, p.action), ctx.currency, now)


def plan_decided(session: Session, incident: Incident, action: RuleAction, decision: str,
                 now: datetime) -> Compensation | None:
    """A compensation a person decided on (one for every customer of a crisis): priced like a rule's action and
    planned already approved, once per incident and decision (the key names both). A refund never takes the
    order past what was paid; None when nothing is left to give or the decision was carried out already."""
    order, shop = incident.order, incident.order.shop
    key = idempotency_key(shop, order, incident, f"{decision}-{action.action}")
    if any(c.idempotency_key == key for c in incident.compensations):
        return None
    ctx = context(session, incident, order, now, count_orders=False)
    p = price(action, ctx, decision)
    if p is not None and not CompensationAction(p.action).is_coupon:
        refunded = sum((c.amount or Decimal(0) for i in order.incidents for c in i.compensations
                        if c.state in SPENT_STATES and not CompensationAction(c.action).is_coupon), Decimal(0))
        left = max((order.total or Decimal(0)) - refunded, Decimal(0))
        p = replace(p, amount=min(p.amount or Decimal(0), left), value=min(p.value, left)) if left > 0 else None
    if p is None:
        return None
    comp = _record(incident, replace(p, needs_approval=False), key, ctx.currency, now)
    settle_incident(incident)
    return comp


def _offered(offer: dict[str, Any], index: int, ctx: IncidentContext) -> Planned:
    o = offer["options"][index]
    amount, percent = o.get("amount"), o.get("percent")
    return offered(CompensationAction(o["action"]), ctx, str(offer.get("rule") or ""),
                   amount=None if amount is None else Decimal(amount),
                   percent=None if percent is None else Decimal(percent), valid_days=o.get("valid_days"))


def settle_incident(incident: Incident) -> None:
    """An open incident's status follows its compensations; resolved and dismissed ones keep theirs."""
    if incident.status not in OPEN_STATUSES:
        return
    states = {c.state for c in incident.compensations}
    if C.AWAITING_APPROVAL in states:
        incident.status = IncidentStatus.AWAITING_APPROVAL
    elif states & {C.PLANNED, C.ISSUING}:
        incident.status = IncidentStatus.COMPENSATING
    else:
        incident.status = IncidentStatus.OPEN


# -- state changes: each is a compare-and-set on the row, so two deciders (a merchant, a job) never overwrite
#    each other: the one that finds the state it expects wins, the other is told what happened.


def _swap(session: Session, comp: Compensation, expected: Collection[CompensationState], **values) -> bool:
    """Change the row only if its state is still one of `expected`; the loaded object follows."""
    result = session.execute(
        update(Compensation).where(Compensation.id == comp.id, Compensation.state.in_(expected)).values(**values)
        .execution_options(synchronize_session=False))
    done = cast(CursorResult[Any], result).rowcount == 1
    if done:
        for name, value in values.items():
            set_committed_value(comp, name, value)
    else:
        session.refresh(comp, ["state"])
    return done


def approve(session: Session, comp: Compensation, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    if not _swap(session, comp, (C.AWAITING_APPROVAL,), state=C.PLANNED, updated_at=now,
                 notes=[*comp.notes, f"approved {now:%Y-%m-%d %H:%M} UTC"]):
        raise LedgerError(f"compensation {comp.id} is {comp.state}, not awaiting approval")
    settle_incident(comp.incident)


def cancel(session: Session, comp: Compensation, now: datetime | None = None) -> None:
    if not _swap(session, comp, WITHDRAWABLE_STATES, state=C.CANCELLED, updated_at=now or datetime.now(UTC)):
        if comp.state == C.ISSUING:
            raise LedgerError(f"compensation {comp.id} is being issued: the store may already have made it, so "
                              "it can no longer be cancelled (only planned or waiting ones can be cancelled)")
        raise LedgerError(f"compensation {comp.id} is {comp.state}: only planned or waiting ones can be cancelled")
    settle_incident(comp.incident)


def withdraw(session: Session, comp: Compensation, now: datetime) -> bool:
    """Cancel a compensation nobody has started to issue (the order is gone); one being issued finishes."""
    if comp.state not in WITHDRAWABLE_STATES:
        return False
    if comp.id is None:  # planned in this very transaction: no job can have seen it
        comp.state = C.CANCELLED
        return True
    return _swap(session, comp, WITHDRAWABLE_STATES, state=C.CANCELLED, updated_at=now)


def start_issuing(session: Session, comp: Compensation, now: datetime) -> bool:
    """planned (or a resumed issuing) → issuing, counting the attempt. A coupon's validity starts at its
    first issue, so one that waited for approval is never born expired."""
    expires = comp.expires_at
    if expires is None and CompensationAction(comp.action).is_coupon:
        expires = now.replace(microsecond=0) + timedelta(days=comp.valid_days or 90)
    return _swap(session, comp, (comp.state,) if comp.state in (C.PLANNED, C.ISSUING) else (),
                 state=C.ISSUING, attempts=comp.attempts + 1, updated_at=now, expires_at=expires)


def mark_issued(session: Session, comp: Compensation, ref: str, now: datetime) -> None:
    # Nothing moves a compensation out of `issuing` but its own (locked) job, so this always applies.
    _swap(session, comp, (C.ISSUING,), state=C.ISSUED, platform_ref=ref, error=None, updated_at=now)
    settle_incident(comp.incident)
    comp.incident.next_message_at = now  # the customer is told what they were given


def mark_failed(session: Session, comp: Compensation, reason: str, now: datetime) -> None:
    """The store said no: the compensation failed, and the incident says so in its evidence."""
    _swap(session, comp, (C.ISSUING,), state=C.FAILED, error=reason, updated_at=now)
    what = f"{comp.action.replace('_', ' ')} of {describe_value(comp)}"
    comp.incident.evidence = [*comp.incident.evidence, {
        "at": iso(now), "source": "compensation", "fact": f"the {what} failed: {reason}; it needs the merchant"}]
    settle_incident(comp.incident)
    comp.incident.next_message_at = now  # a first message waiting for it goes without it


def mark_unconfirmed(session: Session, comp: Compensation, reason: str, now: datetime) -> None:
    """A transient problem: the compensation stays `issuing` (and counts against the caps) until the store
    confirms it exists or says no; the next run asks the store for its key before acting again."""
    _swap(session, comp, (C.ISSUING,), error=reason, updated_at=now)


def describe_value(comp: Compensation) -> str:
    if comp.action == CompensationAction.COUPON_PERCENT and comp.percent is not None:
        return f"{comp.percent.normalize():f} %"
    return f"{fmt(comp.amount if comp.amount is not None else comp.value, comp.currency)} {comp.currency}"


# A job run never outlives its time limit (the worker stops it there), so a compensation untouched for longer
# than that has no run left working on it: resuming it then can never overlap one.
RESUME_AFTER = timedelta(seconds=COMPENSATE.timeout + 60)
RESUME_AT_MOST_EVERY = timedelta(hours=6)
QUEUE_RETRIES = 1 + len(COMPENSATE.backoff)  # job runs before the sweep takes over


def stuck(session: Session, now: datetime, older_than: timedelta = RESUME_AFTER) -> list[int]:
    """Compensations a lost or crashed job left behind, or whose outcome the store has not confirmed yet,
    to enqueue again. The pause doubles with every run past the queue's own retries (up to 6 hours), so an
    unreachable store is asked less and less often, but always again."""
    rows = session.execute(
        select(Compensation.id, Compensation.attempts, Compensation.updated_at)
        .where(Compensation.state.in_((C.PLANNED, C.ISSUING)), Compensation.updated_at < now - older_than)
    ).all()
    due = []
    for cid, attempts, updated_at in rows:
        pause = min(older_than * 2 ** min(max(attempts - QUEUE_RETRIES, 0), 6), RESUME_AT_MOST_EVERY)
        if updated_at <= now - pause:
            due.append(cid)
    return due
