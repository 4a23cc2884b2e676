"""One incident's story for the team, oldest first: the evidence, every message (the customer's, the team's,
the customer's replies), the compensations and the team's notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from plugin.compensation.ledger import describe_value
from plugin.orders.facts import parse_iso
from plugin.storage.models import Incident
from plugin.vocabulary import Audience, Purpose


@dataclass(frozen=True)
class Entry:
    at: datetime
    what: str  # "evidence", "verdict", "message", "reply", "team", "compensation", "note"
    title: str
    text: str = ""
    state: str = ""


def timeline(incident: Incident) -> list[Entry]:
    entries: list[Entry] = []
    for e in incident.evidence:
        if isinstance(e, dict) and isinstance(e.get("at"), str):
            what = "verdict" if e.get("verdict") else "evidence"
            source = "Your team" if e.get("source") == "team" else f"Seen in {e.get('source') or 'Redress'}"
            entries.append(Entry(parse_iso(e["at"]), what, source, str(e.get("fact") or "")))
    for m in incident.messages:
        if m.purpose == Purpose.REPLY:
            entries.append(Entry(m.created_at, "reply", "The customer wrote", m.body_text))
        elif m.audience == Audience.TEAM:
            entries.append(Entry(m.created_at, "team", f"To the team: {m.subject or m.purpose}", "", m.state))
        else:
            title = f"To the customer ({m.purpose}, {m.locale or '?'}): {m.subject or ''}"
            entries.append(Entry(m.sent_at or m.created_at, "message", title, m.body_text, m.state))
    for c in incident.compensations:
        entries.append(Entry(c.created_at, "compensation", f"{c.action.replace('_', ' ')}: {describe_value(c)}",
                             c.error or "", c.state))
    for n in incident.notes:
        entries.append(Entry(n.created_at, "note", f"Note by {n.author or 'the team'}", n.text))
    return sorted(entries, key=lambda e: e.at)
