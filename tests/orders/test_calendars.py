"""Business-day arithmetic across weekends, holidays, time zones and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from plugin.orders.calendars import Calendar, CalendarError

MADRID = ZoneInfo("Europe/Madrid")
NY = ZoneInfo("America/New_York")


def cal(tz=MADRID, **kw):
    return Calendar(tz=tz, **kw)


def local(tz, *args):
    return datetime(*args, tzinfo=tz)


def test_paid_monday_morning_is_due_wednesday_same_time():
    due = cal().add_business_days(local(MADRID, 2026, 11, 16, 10, 2), 2)
    assert due == local(MADRID, 2026, 11, 18, 10, 2)
    assert cal().describe(due) == "Wed 18 Nov 10:02 (Europe/Madrid)"


def test_weekend_is_skipped_and_counting_starts_at_monday_opening():
    assert cal().add_business_days(local(MADRID, 2026, 11, 20, 15, 0), 2) == local(MADRID, 2026, 11, 24, 15, 0)
    assert cal().add_business_days(local(MADRID, 2026, 11, 21, 11, 0), 2) == local(MADRID, 2026, 11, 25, 9, 0)


def test_after_closing_counts_from_the_next_opening_and_before_opening_from_today():
    assert cal().add_business_days(local(MADRID, 2026, 11, 16, 20, 0), 2) == local(MADRID, 2026, 11, 19, 9, 0)
    assert cal().add_business_days(local(MADRID, 2026, 11, 16, 7, 0), 2) == local(MADRID, 2026, 11, 18, 9, 0)


def test_holidays_are_not_business_days():
    c = cal(holidays=frozenset({date(2026, 12, 8)}))  # Inmaculada Concepción, a Tuesday
    assert c.add_business_days(local(MADRID, 2026, 12, 7, 10, 0), 2) == local(MADRID, 2026, 12, 10, 10, 0)
    assert c.add_business_days(local(MADRID, 2026, 12, 8, 10, 0), 1) == local(MADRID, 2026, 12, 10, 9, 0)


def test_dst_change_keeps_local_wall_time():
    # Europe/Madrid leaves summer time on Sun 25 Oct 2026: local 10:02 stays 10:02, UTC shifts by an hour.
    paid = local(MADRID, 2026, 10, 23, 10, 2)
    due = cal().add_business_days(paid, 2)
    assert due.astimezone(MADRID).replace(tzinfo=None) == datetime(2026, 10, 27, 10, 2)
    assert due - paid == timedelta(days=4, hours=1)
    # New York springs forward on Sun 8 Mar 2026.
    ny = cal(tz=NY).add_business_days(local(NY, 2026, 3, 6, 9, 30), 1)
    assert ny.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 9, 9, 30)


def test_the_same_instant_gets_the_local_deadline_of_each_shop():
    instant = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Friday 23:30 in Madrid, 17:30 in New York
    assert cal().add_business_days(instant, 1) == local(MADRID, 2026, 11, 24, 9, 0)
    assert cal(tz=NY).add_business_days(instant, 1) == local(NY, 2026, 11, 23, 17, 30)


def test_build_refuses_settings_a_merchant_must_fix():
    with pytest.raises(CalendarError, match="time zone"):
        Calendar.build("Mars/Olympus", {})
    with pytest.raises(CalendarError, match="open before"):
        Calendar.build("UTC", {"business_hours": ["18:00", "09:00"]})
    with pytest.raises(CalendarError, match="0 \\(Monday\\)"):
        Calendar.build("UTC", {"business_days": [7]})
    with pytest.raises(CalendarError, match="not valid"):
        Calendar.build("UTC", {"holidays": ["2026-13-01"]})


zones = st.sampled_from(["UTC", "Europe/Madrid", "America/New_York", "Australia/Sydney", "Asia/Kolkata"])
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
weekday_sets = st.frozensets(st.integers(0, 6), min_size=1)
holiday_sets = st.frozensets(st.dates(min_value=date(2025, 1, 1), max_value=date(2029, 3, 1)), max_size=20)


@st.composite
def calendars(draw):
    opens = draw(st.integers(0, 22))
    closes = draw(st.integers(opens + 1, 23))
    days = draw(weekday_sets)
    holidays = draw(holiday_sets)
    # Leave at least one business day in any fortnight so the search always ends.
    assume(any(date(2025, 1, 6) + timedelta(days=i) not in holidays for i in range(7)))
    return Calendar(tz=ZoneInfo(draw(zones)), days=days, opens=time(opens), closes=time(closes), holidays=holidays)


@given(c=calendars(), start=moments, n=st.integers(0, 15))
def test_a_deadline_lands_on_a_business_day_within_hours_and_never_before_the_start(c, start, n):
    due = c.add_business_days(start, n)
    assert due >= start
    d = due.astimezone(c.tz)
    assert c.is_business_day(d.date())
    within = c.opens <= d.time().replace(tzinfo=None) < c.closes
    # The only way out of business hours is a wall time skipped by a DST change, which reads an hour later.
    shifted = (due - timedelta(hours=1)).astimezone(c.tz).utcoffset() != d.utcoffset()
    assert within or shifted
    assert c.business_days_between(start, due) == n


@given(c=calendars(), a=moments, b=moments, n=st.integers(0, 10))
def test_deadlines_keep_the_order_of_their_starts(c, a, b, n):
    if a > b:
        a, b = b, a
    assert c.add_business_days(a, n) <= c.add_business_days(b, n)


@given(c=calendars(), start=moments, n=st.integers(0, 8), m=st.integers(0, 8))
def test_adding_in_two_steps_is_adding_once(c, start, n, m):
    assert c.add_business_days(c.add_business_days(start, n), m) == c.add_business_days(start, n + m)
