"""What Redress promises a customer, and when: the shop's quiet hours, the next update due after the last
message, and the answer due after a reply. A promise never lands in quiet hours and never comes later than
the longest silence the shop allows.

Pure domain code: moments in, moments (UTC) out; the shop's calendar gives its time zone and hours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plugin.messages.communication import Communication
from plugin.orders.calendars import Calendar

MARGIN = timedelta(minutes=1)  # a promise pulled back before quiet hours lands this long before they start


def in_quiet_hours(moment: datetime, comm: Communication, cal: Calendar) -> bool:
    t = moment.astimezone(cal.tz).time()
    start, end = comm.quiet_from, comm.quiet_to
    return start <= t < end if start < end else (t >= start or t < end)


def quiet_start(moment: datetime, comm: Communication, cal: Calendar) -> datetime:
    """When the quiet hours that hold `moment` began."""
    local = moment.astimezone(cal.tz)
    start = datetime.combine(local.date(), comm.quiet_from, tzinfo=cal.tz)
    if start > local:
        start -= timedelta(days=1)
    return start.astimezone(UTC)


def quiet_end(moment: datetime, comm: Communication, cal: Calendar) -> datetime:
    """When the quiet hours that hold `moment` end."""
    local = moment.astimezone(cal.tz)
    end = datetime.combine(local.date(), comm.quiet_to, tzinfo=cal.tz)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def send_at(ready: datetime, comm: Communication, cal: Calendar) -> datetime:
    """A message ready at `ready` goes out then, or when the quiet hours it falls in end."""
    return quiet_end(ready, comm, cal) if in_quiet_hours(ready, comm, cal) else ready.astimezone(UTC)


def latest_before(limit: datetime, comm: Communication, cal: Calendar) -> datetime:
    """`limit` itself, or just before the quiet hours it falls in."""
    if not in_quiet_hours(limit, comm, cal):
        return limit.astimezone(UTC)
    return quiet_start(limit, comm, cal) - MARGIN


def update_due(last_message: datetime, comm: Communication, cal: Calendar) -> datetime:
    """When the next update must go out at the latest: the longest silence after the last message, or
    earlier when that falls in quiet hours."""
    return latest_before(last_message + timedelta(hours=comm.max_silence_hours), comm, cal)


def reply_due(received: datetime, comm: Communication, cal: Calendar) -> datetime:
    """The answer promised to a customer who wrote at `received`: within the shop's reply time counted in
    business hours (or when quiet hours that overlap them end), never past the longest silence."""
    limit = received + timedelta(hours=comm.max_silence_hours)
    due = cal.add_business_hours(received, comm.reply_within_business_hours)
    if in_quiet_hours(due, comm, cal):
        due = quiet_end(due, comm, cal)  # business hours that reach into quiet ones: promise their end
    return latest_before(min(due, limit), comm, cal)
