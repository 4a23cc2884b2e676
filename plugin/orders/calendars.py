"""Business time: a shop's working days, hours, holidays and time zone, and the deadlines built on them.

Deadlines count whole business days from a start moment. A start outside business hours counts from
the next opening: paid Monday 10:02 with 2 business days → Wednesday 10:02; paid Saturday → Wednesday at
opening; paid Monday 20:00 (after closing) → Thursday at opening. All arithmetic happens in the shop's
local time, so DST changes move nothing a merchant would notice; results are returned in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class CalendarError(ValueError):
    """A calendar setting a merchant must fix; the message says which."""


@dataclass(frozen=True)
class Calendar:
    tz: ZoneInfo = ZoneInfo("UTC")
    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.days:
            raise CalendarError("at least one business day is needed")
        if self.opens >= self.closes:
            raise CalendarError("business hours must open before they close")

    @classmethod
    def build(cls, timezone: str, timing: dict[str, Any]) -> Calendar:
        try:
            tz = ZoneInfo(timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"unknown time zone {timezone!r}") from exc
        hours = timing.get("business_hours") or ["09:00", "18:00"]
        try:
            opens, closes = (time.fromisoformat(h) for h in hours)
            holidays = frozenset(date.fromisoformat(d) for d in timing.get("holidays", []))
            days = frozenset(int(d) for d in timing.get("business_days", [0, 1, 2, 3, 4]))
        except (TypeError, ValueError) as exc:
            raise CalendarError(f"business hours, days or holidays are not valid: {exc}") from exc
        if not days <= set(range(7)):
            raise CalendarError("business days are numbered 0 (Monday) to 6 (Sunday)")
        return cls(tz=tz, days=days, opens=opens, closes=closes, holidays=holidays)

    def is_business_day(self, d: date) -> bool:
        return d.weekday() in self.days and d not in self.holidays

    def _at(self, d: date, t: time) -> datetime:
        # Round-tripped through UTC so a wall time skipped by a DST change becomes the real instant after it.
        return datetime.combine(d, t, tzinfo=self.tz).astimezone(UTC).astimezone(self.tz)

    def _window(self, d: date) -> tuple[datetime, datetime]:
        return self._at(d, self.opens), self._at(d, self.closes)

    def _open_on(self, d: date) -> bool:
        """A business day whose hours exist (a DST change can swallow a short window whole)."""
        if not self.is_business_day(d):
            return False
        opens, closes = self._window(d)
        return opens < closes

    def next_business_day(self, d: date) -> date:
        d += timedelta(days=1)
        while not self._open_on(d):
            d += timedelta(days=1)
        return d

    def start_of_count(self, moment: datetime) -> datetime:
        """The moment business time starts counting: now if within hours, else the next opening."""
        local = moment.astimezone(self.tz)
        d = local.date()
        if self._open_on(d):
            opens, closes = self._window(d)
            if opens <= local < closes:
                return local
            if local < opens:
                return opens
        return self._at(self.next_business_day(d), self.opens)

    def add_business_days(self, moment: datetime, n: int) -> datetime:
        if n < 0:
            raise CalendarError("business days to add must not be negative")
        start = self.start_of_count(moment)
        d, t = start.date(), start.time().replace(tzinfo=None)
        for _ in range(n):
            d = self.next_business_day(d)
        return self._at(d, t).astimezone(UTC)

    def add_business_hours(self, moment: datetime, hours: float) -> datetime:
        """`hours` of opening time after `moment`: 8 business hours from Friday evening is Monday at 17:00."""
        if hours < 0:
            raise CalendarError("business hours to add must not be negative")
        current, left = self.start_of_count(moment), timedelta(hours=hours)
        while True:
            closes = self._window(current.date())[1]
            if current + left <= closes:
                return (current + left).astimezone(UTC)
            left -= closes - current
            current = self._at(self.next_business_day(current.date()), self.opens)

    def business_days_between(self, start: datetime, end: datetime) -> int:
        """Whole business days from start's count start to end (0 if end is not later)."""
        s = self.start_of_count(start)
        e = end.astimezone(self.tz)
        count, d = 0, s.date()
        while True:
            nxt = self.next_business_day(d)
            if self._at(nxt, s.time().replace(tzinfo=None)) > e:
                return count
            count, d = count + 1, nxt

    def describe(self, moment: datetime) -> str:
        """A moment as the merchant reads it: 'Mon 16 Nov 10:02 (Europe/Madrid)'."""
        local = moment.astimezone(self.tz)
        return f"{WEEKDAYS[local.weekday()]} {local.day} {local:%b} {local:%H:%M} ({self.tz.key})"
