"""Compensations a person decides on for many incidents at once (every customer of a crisis)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from plugin.compensation.ledger import plan_decided
from plugin.compensation.rules import parse_action
from plugin.storage.models import Compensation, Incident
from plugin.vocabulary import OPEN_STATUSES


class DecisionError(ValueError):
    """A compensation that cannot be used, in words for the merchant."""


def compensate_all(session: Session, incidents: Iterable[Incident], raw_action: Any, decision: str,
                   now: datetime) -> list[Compensation]:
    """The action (as a rule's `then` holds it) planned and approved for every open incident `decision` has
    not compensated yet. The caller commits, then enqueues their issuing."""
    action, problems = parse_action(raw_action)
    if action is None or problems:
        raise DecisionError("; ".join(problems) or "the compensation cannot be used")
    planned = []
    for incident in incidents:
        if incident.status in OPEN_STATUSES:
            comp = plan_decided(session, incident, action, decision, now)
            if comp is not None:
                planned.append(comp)
    return planned
