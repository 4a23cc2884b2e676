"""The settings form ⇄ the stored policy. Validation itself belongs to the rules and timing modules."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from plugin.compensation.countries import country_code
from plugin.compensation.policy import LANGUAGES, check_policy
from plugin.orders.timing import DEFAULT_TIMING
from plugin.vocabulary import CompensationAction

REFUNDS = tuple(a for a in CompensationAction if not a.is_coupon)
COUPONS = tuple(a for a in CompensationAction if a.is_coupon)


def _words(value: str) -> list[str]:
    return [w.strip() for w in re.split(r"[,\n]", value or "") if w.strip()]


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def rules_for_form(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """Each stored rule as the flat fields of one form row (a stored rule that is malformed shows what it can)."""
    rows = []
    stored = policy.get("rules")
    for r in stored if isinstance(stored, list) else []:
        r, when = _dict(r), _dict(_dict(r).get("when"))
        actions = r.get("then")
        then = [a for a in actions if isinstance(a, dict)] if isinstance(actions, list) else []
        refund = next((a for a in then if a.get("action") in REFUNDS), None)
        coupon = next((a for a in then if a.get("action") in COUPONS), None)
        rows.append({
            "name": r.get("name") or "", "enabled": r.get("enabled", True), "approval": r.get("approval", "threshold"),
            "kind": when.get("kind") or [], "responsibility": when.get("responsibility") or [],
            "min_delay_days": when.get("min_delay_days") or "", "min_total": when.get("min_total") or "",
            "max_total": when.get("max_total") or "", "country": _joined(when.get("country")),
            "carrier": _joined(when.get("carrier")), "tags": _joined(when.get("tags")),
            "refund": refund["action"] if refund else "",
            "refund_value": (refund.get("amount") or refund.get("percent") or "") if refund else "",
            "coupon": coupon["action"] if coupon else "",
            "coupon_value": (coupon.get("percent") or coupon.get("amount") or "") if coupon else "",
            "valid_days": coupon.get("valid_days", 90) if coupon else 90,
        })
    return rows


def _rule_from_form(form: MultiDict, i: str) -> dict[str, Any]:
    f = lambda k: (form.get(f"rule-{i}-{k}") or "").strip()  # noqa: E731
    when: dict[str, Any] = {}
    for k in ("kind", "responsibility"):
        if form.getlist(f"rule-{i}-{k}"):
            when[k] = form.getlist(f"rule-{i}-{k}")
    for k in ("country", "carrier", "tags"):
        if _words(f(k)):
            when[k] = _words(f(k))
    if "country" in when:  # stored as the codes orders carry; what is no country stays, to be refused
        when["country"] = [country_code(c) or c for c in when["country"]]
    for k in ("min_delay_days", "min_total", "max_total"):
        if f(k):
            when[k] = f(k)
    then = []
    if f("refund"):
        action = {"action": f("refund")}
        if f("refund") == CompensationAction.REFUND_AMOUNT:
            action["amount"] = f("refund_value")
        elif f("refund") == CompensationAction.REFUND_PERCENT:
            action["percent"] = f("refund_value")
        then.append(action)
    if f("coupon"):
        key = "percent" if f("coupon") == CompensationAction.COUPON_PERCENT else "amount"
        then.append({"action": f("coupon"), key: f("coupon_value"), "valid_days": f("valid_days") or "90"})
    return {"name": f("name"), "enabled": bool(form.get(f"rule-{i}-enabled")), "approval": f("approval") or "threshold",
            "when": when, "then": then}


NEW_RULE_DEFAULTS = {"enabled": "1", "approval": "threshold", "valid_days": "90"}


def _blank_new_rule(form: MultiDict) -> bool:
    """The empty "Add a rule" row; one with anything typed in it is a rule, refused if it has no name."""
    for key in form:
        if key.startswith("rule-new-"):
            field = key[len("rule-new-"):]
            if any(v.strip() and v.strip() != NEW_RULE_DEFAULTS.get(field) for v in form.getlist(key)):
                return False
    return True


def policy_from_form(form: MultiDict, stored: dict[str, Any]) -> tuple[dict[str, Any], str, list[str]]:
    """The policy and time zone the form describes, and every problem with them (empty when valid)."""
    caps = {k: (form.get(f"caps-{k}") or "").strip() or None
            for k in ("per_order_percent_of_total", "approval_above", "monthly_amount")}
    timezone = (form.get("timezone") or "UTC").strip()
    contact = {k: (form.get(f"contact-{k}") or "").strip() for k in ("email", "phone", "whatsapp")}
    languages = [lang for lang in form.getlist("languages") if lang in LANGUAGES]
    policy = {**stored, "rules": _rules_from_form(form), "caps": caps, "timing": _timing_from_form(form, stored),
              "contact": contact, "languages": languages}
    return policy, timezone, check_policy(policy, timezone)


def _rules_from_form(form: MultiDict) -> list[dict[str, Any]]:
    """The rules in the order the merchant set (their position fields), without deleted or blank new ones."""
    indices = sorted({m.group(1) for k in form for m in [re.match(r"rule-(\w+)-name$", k)] if m})
    rows = []
    for i in indices:
        if form.get(f"rule-{i}-delete") or (i == "new" and _blank_new_rule(form)):
            continue
        try:
            position = float(form.get(f"rule-{i}-position") or 1e9)
        except ValueError:
            position = 1e9
        rows.append((position, indices.index(i), _rule_from_form(form, i)))
    return [r for _, _, r in sorted(rows, key=lambda x: (x[0], x[1]))]


def _timing_from_form(form: MultiDict, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored timing with what the form changed; values are checked by TimingPolicy.build."""
    timing = dict(stored.get("timing") or DEFAULT_TIMING)
    for k in ("handling_business_days", "pickup_grace_business_days", "transit_business_days"):
        value = (form.get(f"timing-{k}") or "").strip()
        if value:
            timing[k] = int(value) if value.isdigit() else value
    for k in ("max_scan_gap_days", "lost_after_days"):
        value = (form.get(f"timing-{k}") or "").strip()
        if value:
            try:
                timing[k] = float(value)
            except ValueError:
                timing[k] = value
    if form.get("timing-opens") and form.get("timing-closes"):
        timing["business_hours"] = [form["timing-opens"], form["timing-closes"]]
    timing["business_days"] = [int(d) for d in form.getlist("timing-business_days") if d.isdigit()]
    timing["holidays"] = _words(form.get("timing-holidays", ""))
    return timing

