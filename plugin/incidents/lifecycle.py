"""An order's incidents through their life: opened by a finding, updated as the facts change, resolved
when the order recovers, dismissed when it had no grounds. What the shop's rules owe is planned as each
incident opens or grows, and what is no longer owed and not yet issued is withdrawn."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from plugin.compensation.ledger import plan_for_incident, withdraw
from plugin.incidents.findings import Assessment, Evidence, Finding
from plugin.storage.models import Compensation, Incident, Order, Shop
from plugin.vocabulary import OPEN_STATUSES, Family, IncidentStatus, Kind


@dataclass
class Applied:
    opened: int = 0
    resolved: int = 0
    compensations: list[Compensation] = field(default_factory=list)  # newly planned, to issue after commit


def apply_assessment(session: Session, order: Order, shop: Shop, a: Assessment, now: datetime) -> Applied:
    """Open, update, resolve or dismiss this order's incidents, and plan what the shop's rules owe."""
    open_by_family = {Kind(i.kind).family: i for i in order.incidents if i.status in OPEN_STATUSES}
    out = Applied()
    if a.dismiss is not None:
        for gone in open_by_family.values():
            dismiss(session, gone, a.dismiss, now)  # the order is gone: nothing left to compensate
        order.next_check_at = None
        return out
    for f in a.findings:
        inc = open_by_family.get(f.kind.family)
        if inc is None:
            inc = open_by_family[f.kind.family] = _open(order, f, now)
            out.opened += 1
        else:
            _update(inc, f)
        # A new incident is owed its compensation; an old one can earn more (a longer delay, a new verdict).
        out.compensations.extend(plan_for_incident(session, inc, order, shop, now))
    active = {f.kind.family for f in a.findings}
    for fam, evidence in a.withdrawn.items():
        if fam in open_by_family and fam not in active:
            # Opened without grounds: dismissed, and what was not paid yet is not owed.
            dismiss(session, open_by_family.pop(fam), evidence, now)
    out.resolved += _resolve(open_by_family, a.recovered, active, now)
    order.next_check_at = a.next_check_at
    return out


def _open(order: Order, f: Finding, now: datetime) -> Incident:
    inc = Incident(shop_id=order.shop_id, kind=f.kind, responsibility=f.responsibility, status=IncidentStatus.OPEN,
                   evidence=list(f.evidence), opened_at=now, late_since=f.since or now,
                   next_message_at=now)  # the customer is told at once
    order.incidents.append(inc)
    return inc


def _update(inc: Incident, f: Finding) -> None:
    """The same episode seen again: a new kind within its family, a new verdict, new evidence."""
    changes = []
    if inc.kind != f.kind:
        changes.append(f"now {f.kind} (was {inc.kind})")
        inc.kind = f.kind
    if inc.responsibility != f.responsibility and team_verdict(inc) is None:
        changes.append(f"verdict changed from {inc.responsibility} to {f.responsibility}")
        inc.responsibility = f.responsibility
    if changes:
        f.evidence.append({"at": f.evidence[-1]["at"], "source": f.evidence[-1]["source"],
                           "fact": "; ".join(changes)})
    add_evidence(inc, f.evidence)
    if f.since and (inc.late_since is None or f.since < inc.late_since):
        inc.late_since = f.since


def _resolve(open_by_family: dict[Family, Incident], recovered: dict[Family, list[Evidence]],
             active: set[Family], now: datetime) -> int:
    resolved = 0
    for fam, evidence in recovered.items():
        inc = open_by_family.get(fam)
        if inc is not None and fam not in active:
            add_evidence(inc, evidence)
            if inc.confirmed is False:
                continue  # the customer said the recovery did not sort it: the team resolves it, not the facts
            inc.status, inc.resolved_at = IncidentStatus.RESOLVED, now
            inc.next_message_at = now  # the closing message
            resolved += 1
    return resolved


def team_verdict(incident: Incident) -> str | None:
    """The verdict a person gave this incident, if one did: the facts seen later no longer change it."""
    return next((e["verdict"] for e in reversed(incident.evidence) if e.get("verdict")), None)


def dismiss(session: Session, incident: Incident, evidence: list[Evidence], now: datetime) -> None:
    """Closed without grounds: what was not issued yet is not owed."""
    add_evidence(incident, evidence)
    incident.status, incident.resolved_at = IncidentStatus.DISMISSED, now
    for comp in incident.compensations:
        withdraw(session, comp, now)  # one already being issued finishes


def add_evidence(incident: Incident, entries: list[Evidence]) -> bool:
    """Adds the entries not recorded yet (the same fact at the same time is recorded once)."""
    seen = {(e.get("at"), e.get("fact")) for e in incident.evidence}
    new = [e for e in entries if (e.get("at"), e.get("fact")) not in seen]
    if new:
        incident.evidence = [*incident.evidence, *new]  # reassign: JSON columns track assignment
    return bool(new)
