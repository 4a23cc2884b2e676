"""The settings form ⇄ the stored policy. Validation itself belongs to the rules, timing and communication
modules (`check_policy`).

A rule's row holds at most one refund and one coupon; ticking "let the customer choose" turns the two into an
offer's options, the one named as the default first. An offer the row cannot show (three options, two coupons;
set with `redress shops policy --set`) is described and kept as it is, in a hidden field."""

from __future__ import annotations

import json
import re
from typing import Any

from werkzeug.datastructures import MultiDict

from plugin.compensation.countries import country_code
from plugin.compensation.policy import LANGUAGES, check_policy
from plugin.messages.communication import DEFAULT_COMMUNICATION
from plugin.orders.timing import DEFAULT_TIMING
from plugin.vocabulary import OFFER, CompensationAction

REFUNDS = tuple(a for a in CompensationAction if not a.is_coupon)
COUPONS = tuple(a for a in CompensationAction if a.is_coupon)


def _words(value: str) -> list[str]:
    return [w.strip() for w in re.split(r"[,\n]", value or "") if w.strip()]


def _whole(value: str) -> int | str:
    """A whole number typed in digits as its number; anything else as typed, for the checks to name."""
    return int(value) if value.isascii() and value.isdigit() else value


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _offer_for_form(then: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The offer fields of a row, and the actions its refund and coupon fields show."""
    offer = next((a for a in then if a.get("action") == OFFER), None)
    fields: dict[str, Any] = {"offer": offer is not None, "default_after_days": 7, "offer_default": "refund",
                              "offer_then": "", "offer_options": []}
    if offer is None:
        return fields, then
    fields["default_after_days"] = offer.get("default_after_days", 7)
    options = offer.get("options")
    options = [o for o in options if isinstance(o, dict)] if isinstance(options, list) else []
    sides = ["refund" if o.get("action") in REFUNDS else "coupon" if o.get("action") in COUPONS else "?"
             for o in options]
    if len(then) == 1 and sides.count("refund") <= 1 and sides.count("coupon") <= 1 and "?" not in sides:
        fields["offer_default"] = sides[0] if sides else "refund"  # the one given when nothing is chosen
        return fields, options
    fields["offer_then"] = json.dumps(then, ensure_ascii=False)
    fields["offer_options"] = [_describe(o) for o in options]
    return fields, []


def _describe(action: dict[str, Any]) -> str:
    words = str(action.get("action", "?")).replace("_", " ")
    if action.get("amount") not in (None, ""):
        words += f" {action['amount']}"
    if action.get("percent") not in (None, ""):
        words += f" {action['percent']} %"
    if action.get("valid_days") not in (None, ""):
        words += f", valid {action['valid_days']} days"
    return words


def rules_for_form(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """Each stored rule as the flat fields of one form row (a stored rule that is malformed shows what it can)."""
    rows = []
    stored = policy.get("rules")
    for r in stored if isinstance(stored, list) else []:
        r, when = _dict(r), _dict(_dict(r).get("when"))
        actions = r.get("then")
        offer, then = _offer_for_form([a for a in actions if isinstance(a, dict)] if isinstance(actions, list) else [])
        refund = next((a for a in then if a.get("action") in REFUNDS), None)
        coupon = next((a for a in then if a.get("action") in COUPONS), None)
        rows.append({
            **offer,
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
            "when": when, "then": _offer_from_form(form, i, then)}


def _offer_from_form(form: MultiDict, i: str, then: list[dict[str, Any]]) -> Any:
    """The row's refund and coupon as an offer when the customer is to choose; a kept offer as it was."""
    kept = (form.get(f"rule-{i}-offer_then") or "").strip()
    if kept:
        try:
            return json.loads(kept)
        except ValueError:
            return kept  # refused by the rules: its actions must be a list
    if not form.get(f"rule-{i}-offer"):
        return then
    if form.get(f"rule-{i}-offer_default") == "coupon":
        then = then[::-1]
    days = (form.get(f"rule-{i}-default_after_days") or "").strip() or "7"
    return [{"action": OFFER, "options": then, "default_after_days": _whole(days)}]


NEW_RULE_DEFAULTS = {"enabled": "1", "approval": "threshold", "valid_days": "90", "default_after_days": "7",
                     "offer_default": "refund"}


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
              "contact": contact, "languages": languages,
              "communication": _communication_from_form(form, stored)}
    return policy, timezone, check_policy(policy, timezone)


def communication_for_form(policy: dict[str, Any]) -> dict[str, Any]:
    """The communication section as the form's fields show it (the defaults where nothing is stored)."""
    comm = {**DEFAULT_COMMUNICATION, **_dict(policy.get("communication"))}
    quiet = _dict(comm.get("quiet_hours"))
    team = comm.get("team_emails")
    return {"max_silence_hours": _joined(comm.get("max_silence_hours")),
            "quiet_from": _joined(quiet.get("from")), "quiet_to": _joined(quiet.get("to")),
            "reply_within_business_hours": _joined(comm.get("reply_within_business_hours")),
            "sender_name": _joined(comm.get("sender_name")), "reply_to": _joined(comm.get("reply_to")),
            "team_emails": "\n".join(map(str, team)) if isinstance(team, list) else _joined(team),
            "team_webhook_url": _joined(comm.get("team_webhook_url"))}


def _communication_from_form(form: MultiDict, stored: dict[str, Any]) -> dict[str, Any]:
    """The stored section with what the form changed (a field the form lacks keeps its stored value)."""
    comm = {**DEFAULT_COMMUNICATION, **_dict(stored.get("communication"))}
    field = lambda k: None if form.get(f"communication-{k}") is None else form[f"communication-{k}"].strip()  # noqa: E731
    for k in ("max_silence_hours", "reply_within_business_hours"):
        if (value := field(k)) is not None:
            comm[k] = _whole(value)
    if field("quiet_from") is not None or field("quiet_to") is not None:
        comm["quiet_hours"] = {"from": field("quiet_from") or "", "to": field("quiet_to") or ""}
    for k in ("sender_name", "reply_to", "team_webhook_url"):
        if (value := field(k)) is not None:
            comm[k] = value
    if (value := field("team_emails")) is not None:
        comm["team_emails"] = [w for w in re.split(r"[,;\s]+", value) if w]  # one a line, or commas
    return comm


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
            timing[k] = _whole(value)
    for k in ("max_scan_gap_days", "lost_after_days"):
        value = (form.get(f"timing-{k}") or "").strip()
        if value:
            try:
                timing[k] = float(value)
            except ValueError:
                timing[k] = value
    if form.get("timing-opens") and form.get("timing-closes"):
        timing["business_hours"] = [form["timing-opens"], form["timing-closes"]]
    timing["business_days"] = [int(d) for d in form.getlist("timing-business_days") if d.isascii() and d.isdigit()]
    timing["holidays"] = _words(form.get("timing-holidays", ""))
    return timing

