"""Offers a customer chooses from: a rule whose action is `offer` lists options, the customer picks one on
their status page (or the default is taken after `default_after_days`), and the choice becomes compensations.

    choose_offer(session, incident, index, now, by="customer") -> the new compensations (to issue after commit)
    offer_json(incident) -> {"options": [...], "chosen": index | None, "chosen_at": iso | None} | None

A choice can be changed until what it gave starts being issued; from then on it is final.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from plugin.compensation.ledger import coupon_code, idempotency_key, settle_incident, withdraw
from plugin.orders.facts import iso
from plugin.orders.money import fmt, in_units
from plugin.storage.models import Compensation, Incident
from plugin.vocabulary import WITHDRAWABLE_STATES, CompensationAction, CompensationState

HUNDRED = Decimal(100)


class OfferError(Exception):
    """A choice that cannot be taken; `code` is "no_offer", "bad_option" or "final"."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _options(incident: Incident) -> list[dict[str, Any]]:
    offer = incident.offer if isinstance(incident.offer, dict) else {}
    options = offer.get("options")
    return [o for o in options if isinstance(o, dict)] if isinstance(options, list) else []


def _priced(option: dict[str, Any], incident: Incident) -> tuple[CompensationAction, dict[str, Any]]:
    """The option as a compensation's columns, priced on the order."""
    action = CompensationAction(option["action"])
    order = incident.order
    total, currency = order.total or Decimal(0), order.currency or "USD"
    percent = Decimal(str(option["percent"])) if option.get("percent") is not None else None
    amount = Decimal(str(option["amount"])) if option.get("amount") is not None else None
    if action == CompensationAction.REFUND_SHIPPING:
        amount = order.shipping or Decimal(0)
    elif action == CompensationAction.REFUND_PERCENT:
        amount = total * (percent or Decimal(0)) / HUNDRED
    amount = in_units(amount, currency) if amount is not None else None
    value = in_units(total * percent / HUNDRED, currency) if action == CompensationAction.COUPON_PERCENT and percent \
        else amount
    return action, {"amount": None if action == CompensationAction.COUPON_PERCENT else amount, "percent": percent,
                    "currency": currency, "value": value, "valid_days": option.get("valid_days")}


def choose_offer(session: Session, incident: Incident, index: int, now: datetime,
                 by: str = "customer") -> list[Compensation]:
    """Record the choice of option `index` and plan what it gives; what an earlier choice planned and nobody
    started issuing is withdrawn. Raises OfferError when there is no offer, no such option, or the choice is
    final."""
    options = _options(incident)
    if not options:
        raise OfferError("no_offer", "There is no offer to choose from.")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(options):
        raise OfferError("bad_option", f"Choose one of the {len(options)} options offered.")
    earlier = [c for c in incident.compensations if c.rule == _rule(incident)]
    if incident.offer_chosen is not None and any(c.state not in WITHDRAWABLE_STATES and
                                                  c.state != CompensationState.CANCELLED for c in earlier):
        raise OfferError("final", "The choice is already being given and can no longer be changed.")
    if incident.offer_chosen == index:
        return []
    for comp in earlier:
        withdraw(session, comp, now)
    action, columns = _priced(options[index], incident)
    order, shop = incident.order, incident.order.shop
    key = f"{idempotency_key(shop, order, incident, action)}-offer{index}-{len(earlier)}"
    comp = Compensation(action=action, idempotency_key=key, rule=_rule(incident), state=CompensationState.PLANNED,
                        code=coupon_code(key) if action.is_coupon else None, created_at=now, updated_at=now,
                        notes=[f"chosen by the {by} {iso(now)}"], **columns)
    incident.compensations.append(comp)
    incident.offer_chosen, incident.offer_chosen_at = index, now
    settle_incident(incident)
    session.flush()
    return [comp]


def _rule(incident: Incident) -> str:
    offer = incident.offer if isinstance(incident.offer, dict) else {}
    return str(offer.get("rule") or "offer")


def offer_json(incident: Incident) -> dict[str, Any] | None:
    """The offer as the incident JSON shows it, each option priced on the order; None without an offer."""
    options = _options(incident)
    if not options:
        return None
    shown: list[dict[str, Any]] = []
    for option in options:
        action, columns = _priced(option, incident)
        if action == CompensationAction.COUPON_PERCENT:
            shown.append({"action": action.value, "percent": format(columns["percent"].normalize(), "f")})
        else:
            shown.append({"action": action.value, "amount": fmt(columns["amount"], columns["currency"]),
                          "currency": columns["currency"]})
    return {"options": shown, "chosen": incident.offer_chosen,
            "chosen_at": iso(incident.offer_chosen_at) if incident.offer_chosen_at else None}
