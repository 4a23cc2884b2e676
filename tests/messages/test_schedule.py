"""What an incident's customer is told, and when: a first message at once (or when quiet hours end) that
names what is being issued, no silence longer than the shop allows while it is open, one closing message."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.messages.communication import Communication
from plugin.messages.promises import in_quiet_hours
from plugin.messages.schedule import MERGE_WINDOW, Case, Told, next_messages, promised_update
from plugin.orders.calendars import Calendar
from plugin.vocabulary import IncidentStatus, Purpose

MADRID = ZoneInfo("Europe/Madrid")
CAL = Calendar(tz=MADRID)
COMM = Communication()
OPEN, RESOLVED = IncidentStatus.OPEN, IncidentStatus.RESOLVED


def madrid(*args):
    return datetime(*args, tzinfo=MADRID)


def test_the_first_message_waits_a_moment_for_the_coupon_being_issued_and_names_it():
    opened = madrid(2026, 11, 18, 11, 0)
    waiting = next_messages(Case(OPEN, opened, issuing=True), [], COMM, CAL, opened)
    assert waiting.due == [] and waiting.look_again_at == opened + MERGE_WINDOW
    issued = next_messages(Case(OPEN, opened, unannounced=(7,)), [], COMM, CAL, opened + timedelta(minutes=1))
    assert [(d.purpose, d.compensations) for d in issued.due] == [(Purpose.OPENED, (7,))]


def test_a_coupon_still_not_issued_after_the_window_does_not_hold_the_apology_back():
    opened = madrid(2026, 11, 18, 11, 0)
    late = next_messages(Case(OPEN, opened, issuing=True), [], COMM, CAL, opened + MERGE_WINDOW)
    assert [(d.purpose, d.compensations) for d in late.due] == [(Purpose.OPENED, ())]
    # When it is issued later it gets a message of its own.
    told = [Told(Purpose.OPENED, 1, opened + MERGE_WINDOW)]
    later = next_messages(Case(OPEN, opened, unannounced=(7,)), told, COMM, CAL, opened + timedelta(hours=1))
    assert [(d.purpose, d.sequence, d.compensations) for d in later.due] == [(Purpose.COMPENSATION, 1, (7,))]


def test_an_incident_found_at_night_is_told_at_eight():
    opened = madrid(2026, 11, 18, 23, 10)
    assert next_messages(Case(OPEN, opened), [], COMM, CAL, opened).look_again_at == madrid(2026, 11, 19, 8, 0)


def test_a_run_that_comes_late_at_night_still_waits_for_the_morning():
    opened = madrid(2026, 11, 18, 21, 50)  # ready before the quiet hours, but the run only comes at 03:00
    late = next_messages(Case(OPEN, opened), [], COMM, CAL, madrid(2026, 11, 19, 3, 0))
    assert late.due == [] and late.look_again_at == madrid(2026, 11, 19, 8, 0)
    last = madrid(2026, 11, 15, 21, 59)  # an update due at 21:29, looked at only at 23:30
    update = next_messages(Case(OPEN, last), [Told(Purpose.OPENED, 1, last)], COMM, CAL, madrid(2026, 11, 18, 23, 30))
    assert update.due == [] and update.look_again_at == madrid(2026, 11, 19, 8, 0)


def test_the_update_goes_before_the_promised_time_and_the_promise_is_the_longest_silence():
    sent = madrid(2026, 11, 18, 11, 0)
    told = [Told(Purpose.OPENED, 1, sent)]
    assert promised_update(told, COMM, CAL) == madrid(2026, 11, 21, 11, 0)
    nxt = next_messages(Case(OPEN, sent), told, COMM, CAL, sent)
    assert nxt.due == [] and nxt.look_again_at == madrid(2026, 11, 21, 10, 30)
    due = next_messages(Case(OPEN, sent), told, COMM, CAL, madrid(2026, 11, 21, 10, 30))
    assert [(d.purpose, d.sequence) for d in due.due] == [(Purpose.UPDATE, 1)]


def test_a_resolved_incident_is_closed_once_and_one_fixed_before_a_word_only_if_something_was_given():
    opened, fixed = madrid(2026, 11, 18, 11, 0), madrid(2026, 11, 18, 11, 1)
    told = [Told(Purpose.OPENED, 1, opened)]
    closing = next_messages(Case(RESOLVED, opened, fixed), told, COMM, CAL, fixed)
    assert [d.purpose for d in closing.due] == [Purpose.RESOLVED]
    told.append(Told(Purpose.RESOLVED, 1, fixed))
    assert next_messages(Case(RESOLVED, opened, fixed), told, COMM, CAL, fixed).due == []
    assert next_messages(Case(RESOLVED, opened, fixed), [], COMM, CAL, fixed).due == []
    given_ = next_messages(Case(RESOLVED, opened, fixed, unannounced=(3,)), [], COMM, CAL, fixed)
    assert [(d.purpose, d.compensations) for d in given_.due] == [(Purpose.RESOLVED, (3,))]


def test_a_declined_payment_is_told_once_with_no_updates_promised():
    sent = madrid(2026, 11, 18, 11, 0)
    told = [Told(Purpose.OPENED, 1, sent)]
    later = next_messages(Case(OPEN, sent, follows_up=False), told, COMM, CAL, sent + timedelta(days=30))
    assert later.due == [] and later.look_again_at is None


def test_a_resolution_is_not_announced_while_another_incident_of_the_order_carries_the_story_on():
    opened, fixed = madrid(2026, 11, 18, 11, 0), madrid(2026, 11, 20, 11, 0)
    told = [Told(Purpose.OPENED, 1, opened)]
    assert next_messages(Case(RESOLVED, opened, fixed, superseded=True), told, COMM, CAL, fixed).due == []


def test_a_customer_who_says_not_yet_is_told_again_when_it_is_resolved_again():
    opened, fixed, not_yet = madrid(2026, 11, 18, 11, 0), madrid(2026, 11, 19, 11, 0), madrid(2026, 11, 19, 12, 0)
    told = [Told(Purpose.OPENED, 1, opened), Told(Purpose.RESOLVED, 1, fixed)]
    reopened = next_messages(Case(OPEN, opened, reopened_at=not_yet), told, COMM, CAL, not_yet)
    assert reopened.due == [] and reopened.look_again_at == madrid(2026, 11, 22, 10, 30)  # updates resume
    again = madrid(2026, 11, 20, 9, 0)
    closing = next_messages(Case(RESOLVED, opened, again, reopened_at=not_yet), told, COMM, CAL, again)
    assert [(d.purpose, d.sequence) for d in closing.due] == [(Purpose.RESOLVED, 2)]


def test_no_address_or_no_grounds_means_no_message():
    opened = madrid(2026, 11, 18, 11, 0)
    assert next_messages(Case(OPEN, opened, reachable=False), [], COMM, CAL, opened).due == []
    dismissed = Case(IncidentStatus.DISMISSED, opened)
    assert next_messages(dismissed, [Told(Purpose.OPENED, 1, opened)], COMM, CAL, opened).due == []


# -- properties over random histories, policies and clocks ----------------------------------------------

ZONES = st.sampled_from(["Europe/Madrid", "America/Mexico_City", "America/New_York", "Asia/Tokyo", "UTC",
                         "Australia/Sydney", "America/Argentina/Buenos_Aires"])


@st.composite
def communications(draw):
    start = draw(st.integers(0, 23 * 60 + 59))
    length = draw(st.integers(1, 12 * 60))
    end = (start + length) % (24 * 60)
    return Communication(max_silence_hours=draw(st.integers(24, 168)),
                         quiet_from=time(start // 60, start % 60), quiet_to=time(end // 60, end % 60))


@st.composite
def histories(draw):
    """Compensations that start issuing and are issued at random moments, and maybe a resolution."""
    events = []
    for cid in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, 60 * 24 * 10))
        events += [(start, "issuing", cid), (start + draw(st.integers(0, 60 * 24 * 2)), "issued", cid)]
    if draw(st.booleans()):
        events.append((draw(st.integers(0, 60 * 24 * 20)), "resolved", None))
    return sorted(events, key=lambda e: (e[0], e[1]))


def _simulate(opened, events, comm, cal, horizon):
    """Run the clock from the opening to the horizon, looking again exactly when asked to or when
    something happens, as the clock and the jobs do. Returns what was told and the final status."""
    told: list[Told] = []
    issuing, issued, status, resolved_at, now = set(), [], OPEN, None, opened
    pending = [(opened + timedelta(minutes=m), what, cid) for m, what, cid in events]
    while now <= horizon:
        while pending and pending[0][0] <= now:
            _, what, cid = pending.pop(0)
            if what == "issuing":
                issuing.add(cid)
            elif what == "issued" and cid in issuing:
                issuing.discard(cid)
                issued.append(cid)
            elif what == "resolved" and status == OPEN:
                status, resolved_at = RESOLVED, now
        named = {c for _, comps in told for c in comps}
        case = Case(status, opened, resolved_at, issuing=bool(issuing),
                    unannounced=tuple(c for c in issued if c not in named))
        nxt = next_messages(case, [t for t, _ in told], comm, cal, now)
        if nxt.due:
            told.extend((Told(d.purpose, d.sequence, now), d.compensations) for d in nxt.due)
            continue
        wake = [t for t in (nxt.look_again_at, pending[0][0] if pending else None) if t]
        if not wake:
            break
        now = max(min(wake), now + timedelta(minutes=1))
    return told, status


@settings(max_examples=150, deadline=None)
@given(comm=communications(), zone=ZONES, history=histories(),
       opened=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)))
def test_random_histories_keep_every_promise(comm, zone, history, opened):
    cal = Calendar(tz=ZoneInfo(zone))
    horizon = opened + timedelta(days=25)
    told, status = _simulate(opened.replace(second=0, microsecond=0), history, comm, cal, horizon)
    said = [t for t, _ in told]
    # Nothing is sent twice, and nothing goes out in the shop's quiet hours.
    assert len({(t.purpose, t.sequence) for t in said}) == len(said)
    assert not [t for t in said if in_quiet_hours(t.at, comm, cal)]
    # The first word comes within the quiet hours and the merge window of the opening.
    assert (said and said[0].purpose in (Purpose.OPENED, Purpose.RESOLVED)) or status == RESOLVED
    if said and said[0].purpose == Purpose.OPENED:
        assert said[0].at - opened <= timedelta(hours=12) + MERGE_WINDOW + timedelta(minutes=1)
    # While the incident is open, no silence is longer than the shop allows.
    silence = timedelta(hours=comm.max_silence_hours)
    closing = next((i for i, t in enumerate(said) if t.purpose == Purpose.RESOLVED), len(said) - 1)
    times = [t.at for t in said[:closing + 1]]
    assert all(b - a <= silence for a, b in zip(times, times[1:], strict=False))
    if status == OPEN and times:
        assert horizon - times[-1] <= silence
    # Every compensation issued is named in exactly one message.
    named = [c for _, comps in told for c in comps]
    assert len(named) == len(set(named))
    assert sum(1 for t in said if t.purpose == Purpose.RESOLVED) <= 1
