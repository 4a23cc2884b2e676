"""Which message an incident's customer is owed now, and when to look again.

- `opened`: as soon as the incident opens (after the shop's quiet hours). It waits a few minutes for the
  compensations being issued, so the first e-mail names them: never two e-mails in a row about one thing.
- `compensation`: a refund or coupon issued after the first message went.
- `update`: for a customer waiting for their parcel, before the next update promised to them, which is
  never later than the longest silence the shop allows after the last message, and never in quiet hours.
- `resolved`: once, when the incident is resolved; with what was issued and not told yet.

Pure domain code: what was told and what happened in, what is due and the next look out. A message
counts from the moment it is recorded, whether the mail server has taken it yet or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from plugin.messages.communication import Communication
from plugin.messages.promises import in_quiet_hours, send_at, update_due
from plugin.orders.calendars import Calendar
from plugin.vocabulary import IncidentStatus, Purpose

MERGE_WINDOW = timedelta(minutes=3)  # how long the first message waits for compensations being issued
LEAD = timedelta(minutes=30)  # an update goes this long before the time promised for it


@dataclass(frozen=True)
class Told:
    """A customer message already recorded."""

    purpose: Purpose
    sequence: int
    at: datetime


@dataclass(frozen=True)
class Case:
    """What the schedule needs to know of an incident."""

    status: IncidentStatus
    opened_at: datetime
    resolved_at: datetime | None = None
    reachable: bool = True  # an address to write to
    issuing: bool = False  # compensations planned or being issued right now (not waiting for approval)
    unannounced: tuple[int, ...] = ()  # issued compensations no message has named yet
    follows_up: bool = True  # updates until it is resolved (the customer waits for the parcel)
    # Another incident of the same order is open: its messages carry the story on, so this one's
    # resolution is not announced as "all sorted" while something is still wrong with the order.
    superseded: bool = False
    reopened_at: datetime | None = None  # the customer said "not yet": what was said before is not the end


@dataclass(frozen=True)
class Due:
    purpose: Purpose
    sequence: int
    compensations: tuple[int, ...] = ()


@dataclass
class Next:
    due: list[Due] = field(default_factory=list)
    look_again_at: datetime | None = None


def next_messages(case: Case, told: list[Told], comm: Communication, cal: Calendar, now: datetime) -> Next:
    if not case.reachable or case.status == IncidentStatus.DISMISSED:
        return Next()  # no address, or no grounds: nothing to say
    if case.status == IncidentStatus.RESOLVED and case.superseded:
        return Next()
    if not any(t.purpose == Purpose.OPENED for t in told):
        return _first(case, told, comm, cal, now)
    closed = any(t.purpose == Purpose.RESOLVED and (case.reopened_at is None or t.at > case.reopened_at)
                 for t in told)
    if case.status == IncidentStatus.RESOLVED and not closed:
        return _when(Due(Purpose.RESOLVED, _next_sequence(told, Purpose.RESOLVED), case.unannounced),
                     case.resolved_at or now, comm, cal, now)
    if case.unannounced:  # issued after the last word (an approval can come after the resolution)
        return _when(Due(Purpose.COMPENSATION, _next_sequence(told, Purpose.COMPENSATION), case.unannounced),
                     now, comm, cal, now)
    if case.status == IncidentStatus.RESOLVED or not case.follows_up:
        return Next()
    last = max(t.at for t in told)
    go = update_due(last, comm, cal) - LEAD
    return _when(Due(Purpose.UPDATE, _next_sequence(told, Purpose.UPDATE)), go, comm, cal, now)


def promised_update(told: list[Told], comm: Communication, cal: Calendar) -> datetime | None:
    """The next update the customer was promised: the longest silence after the last message, or sooner."""
    return update_due(max(t.at for t in told), comm, cal) if told else None


def _first(case: Case, told: list[Told], comm: Communication, cal: Calendar, now: datetime) -> Next:
    if case.status == IncidentStatus.RESOLVED:
        # Put right before a word was said: only worth telling if something was given.
        if not case.unannounced or any(t.purpose == Purpose.RESOLVED for t in told):
            return Next()
        return _when(Due(Purpose.RESOLVED, 1, case.unannounced), case.resolved_at or now, comm, cal, now)
    ready = case.opened_at
    if case.issuing and now < case.opened_at + MERGE_WINDOW:
        ready = case.opened_at + MERGE_WINDOW  # or sooner: issuing a compensation looks again at once
    return _when(Due(Purpose.OPENED, 1, case.unannounced), ready, comm, cal, now)


def _when(due: Due, ready: datetime, comm: Communication, cal: Calendar, now: datetime) -> Next:
    at = send_at(ready, comm, cal)
    if at <= now and in_quiet_hours(now, comm, cal):
        at = send_at(now, comm, cal)  # a run that comes late (an outage, a backlog) still waits for the morning
    return Next(due=[due]) if at <= now else Next(look_again_at=at)


def _next_sequence(told: list[Told], purpose: Purpose) -> int:
    return 1 + max((t.sequence for t in told if t.purpose == purpose), default=0)
