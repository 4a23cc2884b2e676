"""Recording messages: the next number in an incident's series of one purpose, and a change that is tried again
when another request took that number (or the row) first."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from plugin.storage.models import Message
from plugin.vocabulary import Purpose

log = logging.getLogger(__name__)
T = TypeVar("T")
TRIES = 5


def next_sequence(session: Session, incident_id: int, purpose: Purpose) -> int:
    """One more than the highest sequence of this incident's messages of this purpose (1 for the first)."""
    highest = session.execute(select(func.max(Message.sequence))
                              .where(Message.incident_id == incident_id, Message.purpose == purpose)).scalar()
    return (highest or 0) + 1


def committed(session: Session, change: Callable[[], T], tries: int = TRIES) -> T:
    """Run `change` and commit it. When two requests numbered a message alike, the unique constraint refuses
    the second (SQLite refuses a writer whose snapshot is stale): its transaction is rolled back and the whole
    change runs again, counting afresh. Nothing is half-written."""
    for attempt in range(1, tries + 1):
        try:
            result = change()
            session.commit()
            return result
        except (IntegrityError, OperationalError):
            session.rollback()
            if attempt == tries:
                raise
            log.info("a message number was taken meanwhile; trying again (%d)", attempt)
    raise AssertionError("unreachable")
