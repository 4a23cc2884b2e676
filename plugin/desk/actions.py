"""What the team does with one incident from the desk or the API: give it another verdict (with the reason,
as evidence), resolve or dismiss it, note something, write to the customer. Each returns what the caller must
hand to the workers once it has committed: compensations to issue, messages to send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from plugin.compensation.ledger import replan
from plugin.incidents.lifecycle import add_evidence, dismiss
from plugin.messages.formats import typed_words
from plugin.messages.record import record_team_words
from plugin.orders.facts import iso
from plugin.storage.models import Compensation, Incident, IncidentNote, Message
from plugin.vocabulary import OPEN_STATUSES, Channel, CompensationState, IncidentStatus, Responsibility, values

REASON_MAX = 1_000
TEXT_MAX = 5_000


class ActionError(ValueError):
    """An action the incident cannot take, in words for the merchant; `conflict` when it is the incident's
    state that refuses it (resolved already, the same verdict), not what was asked."""

    def __init__(self, message: str, conflict: bool = False):
        super().__init__(message)
        self.conflict = conflict


@dataclass
class Done:
    planned: list[Compensation] = field(default_factory=list)  # to issue once committed
    withdrawn: list[Compensation] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)  # to send once committed


def _text(value: object, what: str, limit: int, required: bool = True) -> str:
    text = typed_words(value)
    if required and not text:
        raise ActionError(f"{what} is required")
    if len(text) > limit:
        raise ActionError(f"{what} is longer than {limit:,} characters")
    return text


def _still_open(incident: Incident) -> None:
    if incident.status not in OPEN_STATUSES:
        raise ActionError(f"incident {incident.id} is {incident.status} already", conflict=True)


def override_verdict(session: Session, incident: Incident, responsibility: object, reason: object, who: str,
                     now: datetime) -> Done:
    """A person's verdict replaces Redress's: the reason is evidence, later facts no longer change the
    verdict, and the compensations follow the rules for the new one."""
    if responsibility not in values(Responsibility):
        raise ActionError(f"responsibility must be one of {', '.join(values(Responsibility))}")
    why = _text(reason, "a reason", REASON_MAX)
    if incident.status == IncidentStatus.DISMISSED:
        raise ActionError(f"incident {incident.id} is dismissed; its verdict no longer matters", conflict=True)
    new = Responsibility(str(responsibility))
    if new == incident.responsibility:
        raise ActionError(f"the verdict is {new} already", conflict=True)
    add_evidence(incident, [{"at": iso(now), "source": "team", "verdict": str(new),
                             "fact": f"verdict changed from {incident.responsibility} to {new} by {who}: {why}"}])
    incident.responsibility = new
    planned, withdrawn = replan(session, incident, now)
    incident.next_message_at = now  # the customer hears of what changed for them, the team of what waits
    return Done(planned=planned, withdrawn=withdrawn)


def resolve(session: Session, incident: Incident, note: object, who: str, now: datetime) -> Done:
    """Sorted, by the team's word: the customer gets the closing message; what is owed is still issued."""
    _still_open(incident)
    words = _text(note, "the note", TEXT_MAX, required=False)
    add_evidence(incident, [{"at": iso(now), "source": "team", "fact": f"resolved by {who}"
                             + (f": {words}" if words else "")}])
    incident.status, incident.resolved_at = IncidentStatus.RESOLVED, now
    incident.next_message_at = now
    if words:
        _note(incident, words, who, now)
    return Done()


def dismiss_incident(session: Session, incident: Incident, note: object, who: str, now: datetime) -> Done:
    """Not an incident after all: closed, and what was not issued yet is not owed."""
    _still_open(incident)
    words = _text(note, "the note", TEXT_MAX, required=False)
    before = [c for c in incident.compensations if c.state != CompensationState.CANCELLED]
    dismiss(session, incident, [{"at": iso(now), "source": "team", "fact": f"dismissed by {who}"
                                 + (f": {words}" if words else "")}], now)
    if words:
        _note(incident, words, who, now)
    return Done(withdrawn=[c for c in before if c.state == CompensationState.CANCELLED])


def add_note(session: Session, incident: Incident, text: object, who: str, now: datetime) -> Done:
    """An internal note: the team's, never shown to the customer."""
    _note(incident, _text(text, "the note", TEXT_MAX), who, now)
    return Done()


def _note(incident: Incident, text: str, who: str, now: datetime) -> IncidentNote:
    note = IncidentNote(shop_id=incident.shop_id, text=text, author=who[:320], created_at=now)
    incident.notes.append(note)
    return note


def write_to_customer(session: Session, incident: Incident, text: object, now: datetime,
                      status_url: Callable[[int], str], channel: Channel, mail_from: str,
                      nonce: str | None = None) -> Done:
    """The team's words to the customer, sent in their language and recorded like every message. The same
    form sent twice (`nonce`, a double click) sends once."""
    words = _text(text, "the message", TEXT_MAX)
    if nonce and any((m.details or {}).get("nonce") == nonce for m in incident.messages):
        return Done()
    if incident.status == IncidentStatus.DISMISSED:
        raise ActionError(f"incident {incident.id} is dismissed: write from another incident of the order",
                          conflict=True)
    msg = record_team_words(session, incident, words, now, status_url(incident.id), channel, mail_from, nonce)
    if msg is None:
        raise ActionError("this customer has no e-mail address to write to")
    return Done(messages=[msg])
