"""Compensation rules: conditions → actions, under caps and an approval threshold. Platform-free.

Rules are checked in order and **the first rule whose conditions all hold decides** the compensation of
an incident (a rule with no actions means "no compensation" and stops the search). Later rules are not
consulted: a merchant reads the list top to bottom, like a price list, and the result never depends on
how two rules would add up.

Caps: what is paid automatically for one order never exceeds `per_order_percent_of_total` of its total
(counting what was already given for it); an action above what is left is reduced to fit, or dropped when
nothing is left. A coupon counts at its face value (percent × order total, or its amount). A rule marked
`approval: always` is never reduced: every one of its actions waits for the merchant, who sees the cap in
the note. Any action worth more than `approval_above`, or that would take the shop past its
`monthly_amount` cap, waits for approval too. A rule marked `approval: never` skips the threshold, never
the monthly cap.

A rule may instead make an offer: its `then` is one `{"action": "offer", "options": [...], "default_after_days": N}`
whose 2 or 3 options are single actions, and the customer chooses one. Nothing is planned for an offer until a
choice is made; `plan_offer` prices each option on its own against the caps (only one will be given), dropping
those left with nothing, and `plan_option` fits the chosen one to the caps as they stand when it is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from plugin.compensation.countries import country_code
from plugin.orders.money import minor_units
from plugin.vocabulary import OFFER, Approval, CompensationAction, Kind, Responsibility, values

A = CompensationAction
LIST_CONDITIONS = ("kind", "responsibility", "country", "carrier", "tags")
NUMBER_CONDITIONS = ("min_delay_days", "max_delay_days", "min_total", "max_total", "min_shipping",
                     "min_customer_orders", "max_customer_orders")
HUNDRED = Decimal(100)
OFFER_OPTIONS = (2, 3)  # how many options an offer holds, at least and at most
OFFER_DAYS = (1, 30)  # days the customer has to choose before the first option is given, at least and at most
OFFER_SETTINGS = ("action", "options", "default_after_days")


class PolicyError(ValueError):
    """The rules cannot be saved as written; `problems` are sentences for the merchant."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Conditions:
    kind: frozenset[str] | None = None
    responsibility: frozenset[str] | None = None
    country: frozenset[str] | None = None
    carrier: frozenset[str] | None = None
    tags: frozenset[str] | None = None  # any of them
    min_delay_days: Decimal | None = None
    max_delay_days: Decimal | None = None
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    min_shipping: Decimal | None = None
    min_customer_orders: Decimal | None = None
    max_customer_orders: Decimal | None = None


@dataclass(frozen=True)
class RuleAction:
    action: CompensationAction
    amount: Decimal | None = None
    percent: Decimal | None = None
    valid_days: int | None = None


@dataclass(frozen=True)
class Offer:
    """Options the customer chooses one of; the first is given when no choice comes within the days."""

    options: tuple[RuleAction, ...]
    default_after_days: int = 7


@dataclass(frozen=True)
class Rule:
    name: str
    when: Conditions
    then: tuple[RuleAction, ...]  # empty when the rule makes an offer
    approval: Approval = Approval.THRESHOLD
    enabled: bool = True
    offer: Offer | None = None


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    per_order_percent_of_total: Decimal = Decimal(30)
    approval_above: Decimal | None = Decimal(50)
    monthly_amount: Decimal | None = None


@dataclass(frozen=True)
class IncidentContext:
    """What the rules may look at; built from the incident and its order."""

    kind: Kind
    responsibility: Responsibility
    delay_days: Decimal
    total: Decimal
    shipping: Decimal
    currency: str
    customer_orders: int = 1
    country: str | None = None
    carrier: str | None = None
    tags: frozenset[str] = frozenset()


@dataclass
class Planned:
    action: CompensationAction
    rule: str
    value: Decimal  # what it costs the shop, for caps and approval
    amount: Decimal | None = None  # money refunded or a coupon's amount
    percent: Decimal | None = None  # a coupon's or a refund's percentage
    valid_days: int | None = None
    needs_approval: bool = False
    notes: list[str] = field(default_factory=list)


# -- parsing and validation ---------------------------------------------------------------------------------

def _number(value: Any, where: str, problems: list[str], *, low: Decimal = Decimal(0), high: Decimal | None = None,
            whole: bool = False, what: str = "a number") -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        n = Decimal(str(value).strip().replace(",", "."))
        if not n.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        problems.append(f"{where} must be {what}, not {value!r}")
        return None
    if whole and n != n.to_integral_value():
        problems.append(f"{where} must be a whole number, not {value}")
        return None
    if n < low or (high is not None and n > high):
        bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
        problems.append(f"{where} must be {what} {bound}, not {value}")
        return None
    return n


def _choices(value: Any, where: str, allowed: tuple[str, ...] | None, problems: list[str]) -> frozenset[str] | None:
    if value is None or value == [] or value == "":
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        problems.append(f"{where} must be a list of words")
        return None
    values = [v.strip() for v in values]
    if allowed is not None:
        unknown = [v for v in values if v not in allowed]
        if unknown:
            problems.append(f"{where}: {', '.join(map(repr, unknown))} is not one of {', '.join(allowed)}")
            return None
    return frozenset(values)


def _countries(values: frozenset[str] | None, label: str, problems: list[str]) -> frozenset[str] | None:
    """Orders carry ISO codes: a name is taken as its code, and anything that is no country is refused."""
    if values is None:
        return None
    unknown = sorted(v for v in values if country_code(v) is None)
    if unknown:
        what = "is not a country" if len(unknown) == 1 else "are not countries"
        problems.append(f"{label}: {', '.join(map(repr, unknown))} {what}; write countries as two-letter ISO "
                        "codes, like ES for Spain or US for the United States")
        return None
    return frozenset(code for v in values if (code := country_code(v)))


def parse_policy(data: Any) -> Policy:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise PolicyError(["the policy must be an object with rules and caps"])
    caps = data.get("caps") or {}
    if not isinstance(caps, dict):
        problems.append("caps must be an object")
        caps = {}
    cap = _number(caps.get("per_order_percent_of_total", 30), "The per-order cap", problems, high=HUNDRED,
                  what="a percentage")
    above = _number(caps.get("approval_above"), "The approval threshold", problems, what="an amount")
    monthly = _number(caps.get("monthly_amount"), "The monthly cap", problems, what="an amount")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list):
        problems.append("rules must be a list")
        raw_rules = []
    rules = []
    for i, raw in enumerate(raw_rules, start=1):
        rule = _parse_rule(raw, i, problems)
        if rule is not None:
            rules.append(rule)
    if problems:
        raise PolicyError(problems)
    return Policy(rules=tuple(rules), per_order_percent_of_total=cap if cap is not None else Decimal(30),
                  approval_above=above, monthly_amount=monthly)


def _parse_rule(raw: Any, i: int, problems: list[str]) -> Rule | None:
    if not isinstance(raw, dict):
        problems.append(f"Rule {i} must be an object")
        return None
    name = raw.get("name")
    label = f"Rule {i}" + (f" (“{name}”)" if isinstance(name, str) and name.strip() else "")
    before = len(problems)
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{label} needs a name")
    when = _parse_conditions(raw.get("when") or {}, label, problems)
    actions, offer = _parse_then(raw.get("then") or [], label, problems)
    approval = raw.get("approval", Approval.THRESHOLD)
    if approval not in values(Approval):
        problems.append(f"{label}: approval must be one of {', '.join(values(Approval))}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"{label}: enabled must be true or false")
    if len(problems) > before or when is None or not isinstance(name, str):
        return None
    return Rule(name=name.strip(), when=when, then=actions, approval=Approval(approval), enabled=enabled,
                offer=offer)


def _parse_conditions(when: Any, label: str, problems: list[str]) -> Conditions | None:
    if not isinstance(when, dict):
        problems.append(f"{label}: its conditions must be an object")
        return None
    unknown = sorted(set(when) - set(LIST_CONDITIONS) - set(NUMBER_CONDITIONS))
    if unknown:
        problems.append(f"{label}: unknown condition {', '.join(map(repr, unknown))}")
    allowed = {"kind": values(Kind), "responsibility": values(Responsibility)}
    lists: dict[str, Any] = {k: _choices(when.get(k), f"{label}: {k}", allowed.get(k), problems)
                             for k in LIST_CONDITIONS}
    lists["country"] = _countries(lists["country"], label, problems)
    whole = {"min_customer_orders", "max_customer_orders"}
    numbers: dict[str, Any] = {k: _number(when.get(k), f"{label}: {k.replace('_', ' ')}", problems,
                                          whole=k in whole) for k in NUMBER_CONDITIONS}
    for low, high in (("min_delay_days", "max_delay_days"), ("min_total", "max_total"),
                      ("min_customer_orders", "max_customer_orders")):
        if numbers[low] is not None and numbers[high] is not None and numbers[low] > numbers[high]:
            problems.append(f"{label}: {low.replace('_', ' ')} is above {high.replace('_', ' ')}")
    return Conditions(**lists, **numbers)


def _parse_then(then: Any, label: str, problems: list[str]) -> tuple[tuple[RuleAction, ...], Offer | None]:
    """A rule's actions, or the one offer it makes."""
    if isinstance(then, list) and any(isinstance(a, dict) and a.get("action") == OFFER for a in then):
        if len(then) != 1:
            problems.append(f"{label}: an offer must be the rule's only action (its options are what the "
                            "customer chooses from)")
            return (), None
        return (), _parse_offer(then[0], f"{label}, offer", problems)
    return _parse_actions(then, label, problems), None


def _parse_offer(raw: dict[str, Any], where: str, problems: list[str]) -> Offer | None:
    before = len(problems)
    extra = sorted(set(raw) - set(OFFER_SETTINGS))
    if extra:
        problems.append(f"{where}: unknown setting {', '.join(map(repr, extra))}")
    options, (fewest, most) = raw.get("options"), OFFER_OPTIONS
    if not isinstance(options, list):
        problems.append(f"{where}: its options must be a list of {fewest} or {most} actions")
        options = []
    elif not fewest <= len(options) <= most:
        problems.append(f"{where}: give the customer {fewest} or {most} options to choose from, not {len(options)}")
    parsed = []
    for k, option in enumerate(options, 1):
        if isinstance(option, dict) and option.get("action") == OFFER:
            problems.append(f"{where}, option {k}: an option must be a refund or a coupon, not another offer")
        else:
            parsed.append(_parse_action(option, f"{where}, option {k}", problems))
    if len(set(parsed)) < len(parsed) and None not in parsed:
        problems.append(f"{where}: the same option twice")
    low, high, written = *OFFER_DAYS, raw.get("default_after_days")
    days = _number(7 if written is None or written == "" else written, f"{where}: the days before the first option "
                   "is given", problems, low=Decimal(low), high=Decimal(high), whole=True, what="a number of days")
    if len(problems) > before or days is None:
        return None
    return Offer(options=tuple(a for a in parsed if a is not None), default_after_days=int(days))


def _parse_actions(then: Any, label: str, problems: list[str]) -> tuple[RuleAction, ...]:
    if not isinstance(then, list):
        problems.append(f"{label}: its actions must be a list")
        return ()
    parsed = [_parse_action(raw_action, f"{label}, action {j}", problems, also=(OFFER,))
              for j, raw_action in enumerate(then, 1)]
    actions = tuple(a for a in parsed if a is not None)
    kinds = [a.action for a in actions]
    if len(set(kinds)) != len(kinds):
        problems.append(f"{label}: the same action twice")
    if sum(not k.is_coupon for k in kinds) > 1:
        problems.append(f"{label}: at most one refund per rule")
    return actions


def parse_action(raw: Any, where: str = "The compensation") -> tuple[RuleAction | None, list[str]]:
    """One action as a rule's `then` holds it (`{"action": "coupon_percent", "percent": "10"}`), checked alike."""
    problems: list[str] = []
    return _parse_action(raw, where, problems), problems


def price(a: RuleAction, ctx: IncidentContext, rule: str) -> Planned | None:
    """What one action gives this incident's order, before caps (None when it would give nothing)."""
    return _price(a, ctx, rule)


def _parse_action(raw: Any, where: str, problems: list[str], also: tuple[str, ...] = ()) -> RuleAction | None:
    if not isinstance(raw, dict) or raw.get("action") not in values(A):
        got = raw.get("action") if isinstance(raw, dict) else raw
        problems.append(f"{where}: {got!r} is not one of {', '.join((*values(A), *also))}")
        return None
    kind = A(raw["action"])
    extra = sorted(set(raw) - {"action", "amount", "percent", "valid_days"})
    if extra:
        problems.append(f"{where}: unknown setting {', '.join(map(repr, extra))}")
    amount = percent = None
    valid = None
    if kind in (A.REFUND_AMOUNT, A.COUPON_AMOUNT):
        amount = _number(raw.get("amount"), f"{where}: amount", problems, low=Decimal("0.01"), what="an amount")
        if amount is None and raw.get("amount") in (None, ""):
            problems.append(f"{where}: amount is missing")
    if kind in (A.REFUND_PERCENT, A.COUPON_PERCENT):
        percent = _number(raw.get("percent"), f"{where}: percent", problems, low=Decimal("0.01"), high=HUNDRED,
                          what="a percentage")
        if percent is None and raw.get("percent") in (None, ""):
            problems.append(f"{where}: percent is missing")
    if kind.is_coupon:
        days = _number(raw.get("valid_days", 90), f"{where}: valid days", problems, low=Decimal(1),
                       high=Decimal(365), whole=True, what="a number of days")
        valid = int(days) if days is not None else None
    elif raw.get("valid_days") not in (None, ""):
        problems.append(f"{where}: only coupons have valid days")
    if (kind in (A.REFUND_AMOUNT, A.COUPON_AMOUNT) and amount is None) or \
            (kind in (A.REFUND_PERCENT, A.COUPON_PERCENT) and percent is None) or \
            (kind.is_coupon and valid is None):
        return None
    return RuleAction(action=kind, amount=amount, percent=percent, valid_days=valid)


def policy_json(policy: Policy) -> dict[str, Any]:
    """The stored form of a policy (the inverse of parse_policy)."""
    def num(n: Decimal | None) -> str | None:
        return None if n is None else str(n)

    rules = []
    for r in policy.rules:
        when: dict[str, Any] = {}
        for k in LIST_CONDITIONS:
            v = getattr(r.when, k)
            if v is not None:
                when[k] = sorted(v)
        for k in NUMBER_CONDITIONS:
            v = getattr(r.when, k)
            if v is not None:
                when[k] = num(v)
        then = [_action_json(a) for a in r.then]
        if r.offer is not None:
            then = [{"action": OFFER, "options": [_action_json(a) for a in r.offer.options],
                     "default_after_days": r.offer.default_after_days}]
        rules.append({"name": r.name, "enabled": r.enabled, "approval": r.approval, "when": when, "then": then})
    return {"caps": {"per_order_percent_of_total": num(policy.per_order_percent_of_total),
                     "approval_above": num(policy.approval_above), "monthly_amount": num(policy.monthly_amount)},
            "rules": rules}


def _action_json(a: RuleAction) -> dict[str, Any]:
    d: dict[str, Any] = {"action": a.action}
    if a.amount is not None:
        d["amount"] = str(a.amount)
    if a.percent is not None:
        d["percent"] = str(a.percent)
    if a.valid_days is not None:
        d["valid_days"] = a.valid_days
    return d


# -- evaluation ---------------------------------------------------------------------------------------------

def matches(c: Conditions, ctx: IncidentContext) -> bool:
    def within(value: Decimal, low: Decimal | None, high: Decimal | None) -> bool:
        return (low is None or value >= low) and (high is None or value <= high)

    return (
        (c.kind is None or ctx.kind in c.kind)
        and (c.responsibility is None or ctx.responsibility in c.responsibility)
        and (c.country is None or (ctx.country or "").upper() in {x.upper() for x in c.country})
        and (c.carrier is None or (ctx.carrier or "").casefold() in {x.casefold() for x in c.carrier})
        and (c.tags is None or bool({t.casefold() for t in ctx.tags} & {t.casefold() for t in c.tags}))
        and within(ctx.delay_days, c.min_delay_days, c.max_delay_days)
        and within(ctx.total, c.min_total, c.max_total)
        and (c.min_shipping is None or ctx.shipping >= c.min_shipping)
        and within(Decimal(ctx.customer_orders), c.min_customer_orders, c.max_customer_orders)
    )


def first_match(policy: Policy, ctx: IncidentContext) -> Rule | None:
    return next((r for r in policy.rules if r.enabled and matches(r.when, ctx)), None)


def _money(value: Decimal, currency: str) -> Decimal:
    # Never give more than computed: round down to the currency's smallest unit.
    return value.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_DOWN)


def plan(policy: Policy, ctx: IncidentContext, already_given: Decimal = Decimal(0),
         spent_this_month: Decimal = Decimal(0), have: frozenset[str] = frozenset()) -> list[Planned]:
    """The compensations the first matching rule calls for, after caps and approval.

    `have` names the actions the incident already has: they are counted once, in `already_given` and
    `spent_this_month`, and are not priced again.
    """
    rule = first_match(policy, ctx)
    if rule is None:
        return []
    budget = _budget(policy, ctx, already_given, spent_this_month)
    out: list[Planned] = []
    for a in rule.then:
        p = None if a.action in have else _price(a, ctx, rule.name)
        if p is not None and _fit(p, rule, policy, budget, ctx):
            budget.spend(p.value)
            out.append(p)
    return out


def plan_offer(policy: Policy, ctx: IncidentContext, already_given: Decimal = Decimal(0),
               spent_this_month: Decimal = Decimal(0)) -> tuple[Rule, list[Planned]] | None:
    """The deciding rule and the options it offers, when it makes an offer (else None). The customer takes one
    option, so each is priced and fitted to the caps on its own; an option left with nothing is dropped."""
    rule = first_match(policy, ctx)
    if rule is None or rule.offer is None:
        return None
    options = []
    for a in rule.offer.options:
        p = _price(a, ctx, rule.name)
        if p is not None and _fit(p, rule, policy, _budget(policy, ctx, already_given, spent_this_month), ctx):
            options.append(p)
    return rule, options


def offered(action: CompensationAction, ctx: IncidentContext, rule: str, amount: Decimal | None = None,
            percent: Decimal | None = None, valid_days: int | None = None) -> Planned:
    """An offered option as the customer was shown it: its money, or a percent coupon's face value, is its cost."""
    value = amount if amount is not None else _money(ctx.total * _given(percent) / HUNDRED, ctx.currency)
    return Planned(action, rule, value, amount=amount, percent=percent, valid_days=valid_days)


def plan_option(policy: Policy, ctx: IncidentContext, option: Planned, already_given: Decimal = Decimal(0),
                spent_this_month: Decimal = Decimal(0)) -> Planned | None:
    """The option a customer chose, fitted to the caps and the approval of its rule as they stand now: never
    more than was offered, less only when the order's cap was used meanwhile; None when nothing is left."""
    known = next((r for r in policy.rules if r.name == option.rule), None)
    rule = Rule(option.rule, Conditions(), (), known.approval if known else Approval.THRESHOLD)
    p = replace(option, needs_approval=False, notes=[])
    return p if _fit(p, rule, policy, _budget(policy, ctx, already_given, spent_this_month), ctx) else None


def _budget(policy: Policy, ctx: IncidentContext, already_given: Decimal, spent_this_month: Decimal) -> _Budget:
    cap = _money(ctx.total * policy.per_order_percent_of_total / HUNDRED, ctx.currency)
    return _Budget(cap, left=max(cap - already_given, Decimal(0)), month=spent_this_month)


@dataclass
class _Budget:
    """What one order may still get automatically, and the shop's spending this month so far."""

    cap: Decimal
    left: Decimal
    month: Decimal

    def spend(self, value: Decimal) -> None:
        self.left -= min(value, self.left)
        self.month += value


def _fit(p: Planned, rule: Rule, policy: Policy, budget: _Budget, ctx: IncidentContext) -> bool:
    """Fit one priced action to the caps and decide whether it waits for approval; False drops it."""
    cap_note = f"the per-order cap of {policy.per_order_percent_of_total}% ({budget.cap})"
    if rule.approval == Approval.ALWAYS:
        p.needs_approval = True
        p.notes.append("this rule always waits for approval")
        if p.value > budget.left:
            p.notes.append(f"above {cap_note}")
    elif p.value > budget.left:
        if budget.left <= 0:
            return False  # the cap is used up: nothing more for this order automatically
        _reduce(p, budget.left, ctx)
        if (p.amount is not None and p.amount <= 0) or (p.percent is not None and p.percent <= 0):
            return False
        p.notes.append(f"reduced to {cap_note}")
    above = policy.approval_above
    if rule.approval == Approval.THRESHOLD and above is not None and p.value > above:
        p.needs_approval = True
        p.notes.append(f"worth more than {above} {ctx.currency}")
    monthly = policy.monthly_amount
    if monthly is not None and budget.month + p.value > monthly and not p.needs_approval:
        p.needs_approval = True
        p.notes.append(f"would pass the monthly cap of {monthly} {ctx.currency}")
    return True


def _price(a: RuleAction, ctx: IncidentContext, rule: str) -> Planned | None:
    cur = ctx.currency
    if a.action == A.REFUND_SHIPPING:
        amount = _money(ctx.shipping, cur)
        return Planned(a.action, rule, amount, amount=amount) if amount > 0 else None
    if a.action == A.REFUND_AMOUNT:
        amount = _money(min(_given(a.amount), ctx.total), cur)
        return Planned(a.action, rule, amount, amount=amount) if amount > 0 else None
    if a.action == A.REFUND_PERCENT:
        amount = _money(ctx.total * _given(a.percent) / HUNDRED, cur)
        return Planned(a.action, rule, amount, amount=amount, percent=a.percent) if amount > 0 else None
    if a.action == A.COUPON_PERCENT:
        value = _money(ctx.total * _given(a.percent) / HUNDRED, cur)
        return Planned(a.action, rule, value, percent=a.percent, valid_days=a.valid_days)
    amount = _money(_given(a.amount), cur)
    return Planned(a.action, rule, amount, amount=amount, valid_days=a.valid_days) if amount > 0 else None


def _given(value: Decimal | None) -> Decimal:
    """An action's amount or percent, which parsing guarantees for the actions that use it."""
    if value is None:
        raise ValueError("a rule action without the amount or percent its kind needs")
    return value


def _reduce(p: Planned, left: Decimal, ctx: IncidentContext) -> None:
    if p.action == A.COUPON_PERCENT:
        p.percent = (left * HUNDRED / ctx.total).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        p.value = _money(ctx.total * p.percent / HUNDRED, ctx.currency)
    else:
        p.amount = p.value = left
        if p.action == A.REFUND_PERCENT:
            p.percent = (left * HUNDRED / ctx.total).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
