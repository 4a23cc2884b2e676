"""What the customer is promised: never in the shop's quiet hours, never later than its longest silence."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugin.messages.communication import Communication, parse_communication
from plugin.messages.promises import in_quiet_hours, reply_due, send_at, update_due
from plugin.orders.calendars import Calendar

MADRID = ZoneInfo("Europe/Madrid")
CAL = Calendar(tz=MADRID)
COMM = Communication()  # 72 h, quiet 22:00–08:00, replies within 8 business hours


def madrid(*args):
    return datetime(*args, tzinfo=MADRID)


def test_a_reply_on_friday_evening_is_promised_monday_by_five():
    assert reply_due(madrid(2026, 11, 20, 19, 30), COMM, CAL) == madrid(2026, 11, 23, 17, 0)


def test_a_reply_on_tuesday_morning_is_promised_by_wednesday_morning():
    # 7 h 45 min are left on Tuesday (10:15 to 18:00); the last 15 minutes fall on Wednesday from opening.
    assert reply_due(madrid(2026, 11, 17, 10, 15), COMM, CAL) == madrid(2026, 11, 18, 9, 15)


def test_an_incident_found_at_night_is_told_when_the_quiet_hours_end():
    assert send_at(madrid(2026, 11, 17, 23, 40), COMM, CAL) == madrid(2026, 11, 18, 8, 0)
    assert send_at(madrid(2026, 11, 18, 7, 59), COMM, CAL) == madrid(2026, 11, 18, 8, 0)
    assert send_at(madrid(2026, 11, 18, 12, 0), COMM, CAL) == madrid(2026, 11, 18, 12, 0)


def test_an_update_that_would_fall_at_night_comes_the_evening_before():
    # 72 h after Monday 23:30 is Thursday 23:30, in quiet hours: the update goes Thursday before 22:00.
    assert update_due(madrid(2026, 11, 16, 23, 30), COMM, CAL) == madrid(2026, 11, 19, 21, 59)
    assert update_due(madrid(2026, 11, 16, 10, 0), COMM, CAL) == madrid(2026, 11, 19, 10, 0)


clock_times = st.times().map(lambda t: t.replace(second=0, microsecond=0))
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.just(UTC))


@st.composite
def communications(draw):
    start = draw(clock_times)
    span = draw(st.integers(1, 12 * 60))
    end = (datetime.combine(datetime.min, start) + timedelta(minutes=span)).time()
    comm, problems = parse_communication({
        "max_silence_hours": draw(st.integers(24, 168)), "reply_within_business_hours": draw(st.integers(1, 40)),
        "quiet_hours": {"from": start.strftime("%H:%M"), "to": end.strftime("%H:%M")}})
    assert problems == []
    return comm


zones = st.sampled_from([MADRID, ZoneInfo("America/Mexico_City"), ZoneInfo("Australia/Sydney"), ZoneInfo("UTC")])


@pytest.mark.parametrize("promise", [update_due, reply_due], ids=["next update", "answer to a reply"])
@given(comm=communications(), start=moments, tz=zones)
def test_a_promise_is_never_later_than_the_longest_silence_nor_at_night(promise, comm, start, tz):
    cal = Calendar(tz=tz)
    due = promise(start, comm, cal)
    assert start < due <= start + timedelta(hours=comm.max_silence_hours)
    assert not in_quiet_hours(due, comm, cal)


@given(comm=communications(), ready=moments, tz=zones)
def test_a_message_goes_out_at_once_or_when_the_quiet_hours_end(comm, ready, tz):
    cal = Calendar(tz=tz)
    at = send_at(ready, comm, cal)
    assert ready <= at <= ready + timedelta(hours=12)
    assert not in_quiet_hours(at, comm, cal)
    assert (at == ready) == (not in_quiet_hours(ready, comm, cal))


def test_quiet_hours_that_do_not_wrap_midnight_work_too():
    comm = Communication(quiet_from=time(13, 0), quiet_to=time(15, 0))
    assert in_quiet_hours(madrid(2026, 11, 18, 14, 0), comm, CAL)
    assert not in_quiet_hours(madrid(2026, 11, 18, 23, 0), comm, CAL)
    assert send_at(madrid(2026, 11, 18, 14, 0), comm, CAL) == madrid(2026, 11, 18, 15, 0)
