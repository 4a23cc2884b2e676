"""A shop's policy: the one a new shop starts with (CONTRACT.md, "Default compensation policy"), and the one
check every change passes, whether it comes from the settings page or `redress shops policy --set`."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from plugin.compensation.rules import PolicyError, parse_policy
from plugin.crises.signals import parse_thresholds
from plugin.messages.communication import DEFAULT_COMMUNICATION, EMAIL, communication_json, parse_communication
from plugin.messages.compose import EDITABLE, check_template, sample_facts
from plugin.orders.calendars import CalendarError
from plugin.orders.timing import DEFAULT_TIMING, TimingPolicy
from plugin.vocabulary import Locale

LANGUAGES = {Locale.EN: "English", Locale.ES: "Español"}
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,19}$")
MAX_TEMPLATE = 20_000
# A merchant's template is tried on an incident of every kind and verdict it may meet.
SAMPLES = [sample_facts(k, f) for k, f in (
    ("fulfillment_late", "shop"), ("pickup_late", "shop"), ("order_cancelled", "shop"), ("order_cancelled", "customer"),
    ("payment_failed", "payment"), ("transit_stalled", "carrier"), ("delivery_late", "carrier"),
    ("delivery_late", "shop"), ("delivery_failed", "carrier"), ("returned_to_sender", "carrier"), ("lost", "carrier"))]

DEFAULT_POLICY: dict[str, Any] = {
    # The shop's time zone lives on the shop itself; this is the rest of its calendar and deadlines.
    "timing": DEFAULT_TIMING,
    # How customers can reach the shop (shown in messages and on the status page) and the languages spoken.
    "contact": {"email": "", "phone": "", "whatsapp": ""},
    "languages": ["en", "es"],
    # How the customer and the team are kept informed (plugin.messages.communication).
    "communication": DEFAULT_COMMUNICATION,
    "caps": {"per_order_percent_of_total": "30", "approval_above": "50"},
    "rules": [
        {"name": "Shop fault: refund shipping and a 10 % coupon",
         "when": {"responsibility": ["shop"],
                  "kind": ["fulfillment_late", "pickup_late", "order_cancelled"]},
         "then": [{"action": "refund_shipping"},
                  {"action": "coupon_percent", "percent": "10", "valid_days": 90}]},
        {"name": "Carrier delay of 3 days or more: a 5 % goodwill coupon",
         "when": {"responsibility": ["carrier"],
                  "kind": ["transit_stalled", "delivery_late", "delivery_failed"], "min_delay_days": 3},
         "then": [{"action": "coupon_percent", "percent": "5", "valid_days": 90}]},
        {"name": "Lost parcel: full refund, held for approval",
         "when": {"responsibility": ["carrier"], "kind": ["lost"]},
         "then": [{"action": "refund_percent", "percent": "100"}], "approval": "always"},
    ],
}


def default_policy() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_POLICY)


def check_policy(policy: Any, timezone: str) -> list[str]:
    """Every problem with a whole policy, as sentences for the merchant (empty when it can be saved)."""
    if not isinstance(policy, dict):
        return ["The policy must be an object with rules, caps, timing, contact and languages"]
    problems = _contact_problems(policy.get("contact") or {})
    languages = policy.get("languages")
    if not isinstance(languages, list) or not languages:
        problems.append("Choose at least one language to write to customers in")
    elif unknown := [lang for lang in languages if lang not in LANGUAGES]:
        problems.append(f"Redress writes to customers in {' and '.join(LANGUAGES)}, not {', '.join(map(str, unknown))}")
    try:
        parse_policy(policy)
    except PolicyError as exc:
        problems.extend(exc.problems)
    timing = policy.get("timing")
    if timing is not None and not isinstance(timing, dict):
        problems.append("The timing policy must be an object")
    else:
        try:
            TimingPolicy.build(timezone, timing)
        except CalendarError as exc:
            problems.append(str(exc).capitalize())
    if "communication" in policy:
        problems.extend(parse_communication(policy["communication"])[1])
    if "crises" in policy:
        problems.extend(parse_thresholds(policy["crises"])[1])
    if "templates" in policy:
        problems.extend(template_problems(policy["templates"]))
    return problems


def stored_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """A policy that passed `check_policy`, as it is saved: its communication section in one written form."""
    if "communication" not in policy:
        return policy
    return {**policy, "communication": communication_json(parse_communication(policy["communication"])[0])}


def template_problems(templates: Any) -> list[str]:
    """The shop's own message templates, `{"es": {"opened": "Subject: …"}}`: each must render in the
    sandbox on sample incidents of every kind."""
    if not isinstance(templates, dict):
        return ["Message templates must be an object of languages"]
    problems = []
    for lang, own in templates.items():
        if lang not in LANGUAGES or not isinstance(own, dict):
            problems.append(f"Message templates: {lang!r} is not a language Redress writes in")
            continue
        for purpose, source in own.items():
            if purpose not in EDITABLE or not isinstance(source, str):
                problems.append(f"Message templates: there is no {purpose!r} message to edit")
            elif len(source) > MAX_TEMPLATE:
                problems.append(f"The {purpose} template ({lang}) is longer than {MAX_TEMPLATE:,} characters")
            else:
                problems.extend(_first(check_template(purpose, Locale(lang), source, s) for s in SAMPLES))
    return problems


def _first(found: Iterable[list[str]]) -> list[str]:
    return next((p for p in found if p), [])


def _contact_problems(contact: Any) -> list[str]:
    if not isinstance(contact, dict) or not all(isinstance(v, str) for v in contact.values()):
        return ["The contact channels must be an object of texts: email, phone and whatsapp"]
    problems = []
    email = contact.get("email", "")
    if email and not EMAIL.match(email):
        problems.append(f"The contact email {email!r} is not an email address")
    for k, label in (("phone", "phone number"), ("whatsapp", "WhatsApp number")):
        if contact.get(k) and not PHONE.match(contact[k]):
            problems.append(f"The {label} may hold only digits, spaces, dashes and a leading +")
    return problems
