"""What the team does with a crisis: move it through its states and speak once to everyone it touches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from plugin.messages.formats import typed_words
from plugin.messages.record import language, record_crisis_update
from plugin.orders.facts import iso
from plugin.storage.models import Crisis, Message
from plugin.vocabulary import OPEN_STATUSES, Channel, CrisisStatus, Locale, values

TEXT_MAX = 5_000


class CrisisError(ValueError):
    """An update that cannot be made, in words for the merchant."""


@dataclass
class Posted:
    messages: list[Message] = field(default_factory=list)  # to send once committed


def post_update(session: Session, crisis: Crisis, *, text: str, status: str | None, send_to_customers: bool,
                now: datetime, status_url: Callable[[int], str], channel: Channel, mail_from: str,
                texts: dict[str, str] | None = None, nonce: str | None = None) -> Posted:
    """Record an update (its text, and the crisis's new status), and with `send_to_customers` one `crisis`
    message to the customer of every open incident of the crisis. `texts` holds the words per language
    ({"en": …, "es": …}); a customer whose language has none gets `text`, or with none Redress's own words
    for the cause in their language. The caller commits, then sends."""
    text, by_language = _words(text, texts)
    if nonce and any(u.get("nonce") == nonce for u in crisis.updates):
        return Posted()  # the same form sent twice (a double click): told once
    _check(crisis, text, by_language, texts, status, send_to_customers)
    out = Posted()
    if send_to_customers:
        cause = dict(crisis.cause)
        for incident in crisis.incidents:
            if incident.status in OPEN_STATUSES:
                words = by_language.get(language(incident), text)
                msg = record_crisis_update(session, incident, cause, words, now, status_url(incident.id), channel,
                                           mail_from)
                if msg is not None:
                    out.messages.append(msg)
    if status is not None:
        crisis.status = CrisisStatus(status)
        crisis.resolved_at = now if crisis.status == CrisisStatus.RESOLVED else None
        summary = text or next(iter(by_language.values()), "")
        if crisis.status == CrisisStatus.RESOLVED and summary:
            crisis.summary = summary  # what happened, kept for the analytics
    update: dict[str, Any] = {"at": iso(now), "status": str(crisis.status), "text": text,
                              "sent_to": len(out.messages)}
    if by_language:
        update["texts"] = by_language
    if nonce:
        update["nonce"] = nonce
    crisis.updates = [*crisis.updates, update]
    return out


def _words(text: str, texts: dict[str, str] | None) -> tuple[str, dict[str, str]]:
    return typed_words(text), {k: words for k, v in (texts or {}).items() if (words := typed_words(v))}


def _check(crisis: Crisis, text: str, by_language: dict[str, str], texts: dict[str, str] | None,
           status: str | None, send_to_customers: bool) -> None:
    if any(len(t) > TEXT_MAX for t in (text, *by_language.values())):
        raise CrisisError(f"the update is longer than {TEXT_MAX:,} characters")
    if texts is not None and not set(texts) <= set(values(Locale)):
        raise CrisisError(f"texts are given per language: {', '.join(values(Locale))}")
    if status is not None and status not in values(CrisisStatus):
        raise CrisisError(f"status must be one of {', '.join(values(CrisisStatus))}")
    if crisis.status == CrisisStatus.RESOLVED:
        raise CrisisError("the crisis is resolved; it takes no more updates")
    if not text and not by_language and not send_to_customers and status is None:
        raise CrisisError("an update needs a text, a new status or both")
    if status == CrisisStatus.RESOLVED and send_to_customers and not text and not by_language:
        # Redress's own words say the trouble is still going on: a closing update is the team's to write.
        raise CrisisError("write what happened before telling customers the crisis is resolved")
