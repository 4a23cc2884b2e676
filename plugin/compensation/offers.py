"""The customer's choice among the options of an offer (CONTRACT.md, "Customer communication").

An incident whose deciding rule makes an offer carries it (`ledger.plan_for_incident`). The customer
chooses on the status page, or the first option is chosen for them once the offer's days have passed
(`expire_offers`, run by the clock). A choice may be changed while what it planned can still be withdrawn
(planned, or waiting for approval); once any of it is being issued or issued, it is final.

Each choice is a compare-and-set on the incident row, so the customer and the clock (or two clicks) never
both win: the one that comes second decides again against the first one's choice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from plugin.compensation.ledger import chosen, describe_option, plan_chosen, settle_incident, withdraw
from plugin.orders.facts import iso, parse_iso
from plugin.orders.money import fmt
from plugin.storage.models import Compensation, Incident, Order
from plugin.vocabulary import (
    OPEN_STATUSES,
    SPENT_STATES,
    WITHDRAWABLE_STATES,
    Chooser,
    CompensationAction,
    IncidentStatus,
    OfferRefusal,
)

MESSAGES = {
    OfferRefusal.NO_OFFER: "There is no offer to choose from for this order.",
    OfferRefusal.BAD_OPTION: "That is not one of the options offered.",
    OfferRefusal.FINAL: "Your choice is already being carried out, so it can no longer be changed.",
}
# A resolved incident still owes what its rule offered; a dismissed one (the order is gone) owes nothing.
CHOOSABLE = OPEN_STATUSES | {IncidentStatus.RESOLVED}


class OfferError(Exception):
    """A choice that cannot be made. Its str is a short sentence safe to show the customer; `code` (one of
    "no_offer", "bad_option", "final") lets a page say it in the customer's own language."""

    def __init__(self, code: str = OfferRefusal.NO_OFFER, message: str | None = None):
        self.code = OfferRefusal(code)
        super().__init__(message or MESSAGES[self.code])


def choose_offer(session: Session, incident: Incident, index: int, now: datetime,
                 by: str = Chooser.CUSTOMER) -> list[Compensation]:
    """Take option `index` of the incident's offer: plan its compensation (caps, approval, idempotency as any
    rule's) in place of the earlier choice's, record who chose, and settle the incident's status. Returns the
    new compensations; the caller commits, then enqueues them."""
    by = Chooser(by)
    options = _options(incident)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(options):
        raise OfferError(OfferRefusal.BAD_OPTION)
    previous, previous_at = incident.offer_chosen, incident.offer_chosen_at
    if previous == index or (by == Chooser.DEFAULT and previous is not None):
        return []  # the same choice again (a second click), or the customer chose before the default
    earlier = [c for c in incident.compensations if chosen(c) and c.state in SPENT_STATES]
    if any(c.state not in WITHDRAWABLE_STATES for c in earlier):
        raise OfferError(OfferRefusal.FINAL)
    if not _swap_choice(session, incident, previous, index, now):
        session.expire(incident)  # chosen meanwhile by someone else: decide again against their choice
        return choose_offer(session, incident, index, now, by)
    for earlier_comp in earlier:
        if not withdraw(session, earlier_comp, now):  # its job started meanwhile: the earlier choice stands
            _swap_choice(session, incident, index, previous, previous_at)
            raise OfferError(OfferRefusal.FINAL)
    new = plan_chosen(session, incident, index, 1 + sum(map(chosen, incident.compensations)), now)
    fact = f"chose {describe_option(options[index])}"
    if previous is not None:
        fact += f" instead of {describe_option(options[previous])}"
    if by == Chooser.DEFAULT:
        fact += f" by default: nothing was chosen within {(incident.offer or {}).get('default_after_days')} days"
    incident.evidence = [*incident.evidence, {"at": iso(now), "source": str(by), "fact": fact}]
    settle_incident(incident)
    return [new] if new is not None else []


def _options(incident: Incident) -> list[dict[str, Any]]:
    offer = incident.offer
    if incident.status not in CHOOSABLE or not isinstance(offer, dict) or not offer.get("options"):
        raise OfferError(OfferRefusal.NO_OFFER)
    return list(offer["options"])


def _swap_choice(session: Session, incident: Incident, expected: int | None, index: int | None,
                 at: datetime | None) -> bool:
    """Record the choice only if the row still holds `expected`; the loaded incident follows."""
    session.flush()
    same = Incident.offer_chosen.is_(None) if expected is None else Incident.offer_chosen == expected
    result = session.execute(
        update(Incident).where(Incident.id == incident.id, same).values(offer_chosen=index, offer_chosen_at=at)
        .execution_options(synchronize_session=False))
    done = cast(CursorResult[Any], result).rowcount == 1
    if done:
        set_committed_value(incident, "offer_chosen", index)
        set_committed_value(incident, "offer_chosen_at", at)
    return done


def offer_json(incident: Incident) -> dict[str, Any] | None:
    """The offer as the incident JSON shows it (CONTRACT.md), or None when the incident offers no choice."""
    offer = incident.offer
    if not isinstance(offer, dict) or not offer.get("options"):
        return None
    return {"options": [_option_json(o) for o in offer["options"]], "chosen": incident.offer_chosen,
            "chosen_at": iso(incident.offer_chosen_at) if incident.offer_chosen_at else None}


def _option_json(option: dict[str, Any]) -> dict[str, Any]:
    if option["action"] == CompensationAction.COUPON_PERCENT:
        return {"action": option["action"], "percent": option["percent"]}
    currency = option.get("currency")
    return {"action": option["action"], "amount": fmt(Decimal(option["amount"]), currency), "currency": currency}


def expire_offers(session: Session, now: datetime) -> list[Compensation]:
    """Choose the first option of every offer whose days have passed with no choice. Returns the new
    compensations, for the caller to commit and enqueue; running it again changes nothing."""
    rows = session.execute(
        select(Incident.id, Incident.offer).where(Incident.offer.is_not(None), Incident.offer_chosen.is_(None),
                                                  Incident.status.in_(CHOOSABLE))).all()
    due = [incident_id for incident_id, offer in rows if _past(offer, now)]
    new: list[Compensation] = []
    for incident in session.execute(
            select(Incident).where(Incident.id.in_(due)).order_by(Incident.id)
            .options(selectinload(Incident.order).selectinload(Order.shop), selectinload(Incident.compensations))
    ).scalars():
        new.extend(choose_offer(session, incident, 0, now, by=Chooser.DEFAULT))
    return new


def _past(offer: Any, now: datetime) -> bool:
    try:
        return isinstance(offer, dict) and parse_iso(offer["deadline"]) <= now
    except (KeyError, TypeError, ValueError):
        return False
