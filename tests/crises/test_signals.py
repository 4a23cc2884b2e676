"""When one cause is clearly above its usual level: EARS C2/C3 for shops with little history, a binomial test
of today's share otherwise, and never for a handful of incidents."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from plugin.crises.signals import Thresholds, assess, ears_c2

T = Thresholds()
days = st.lists(st.integers(0, 40), min_size=1, max_size=40)


def test_thirty_stalled_parcels_against_one_a_day_is_a_crisis_for_a_young_shop():
    signal = assess([1, 0, 2, 1, 1, 0, 1, 1, 2, 30], [3, 2, 4, 3, 3, 2, 3, 3, 4, 33], T)
    assert signal.alarm and signal.observed == 30 and signal.expected < 2
    assert signal.method.startswith("EARS C2")


def test_two_late_parcels_on_a_quiet_day_are_never_a_crisis():
    signal = assess([0] * 27 + [2], [0] * 27 + [2], T)
    assert not signal.alarm and "EARS" in signal.method


def test_a_big_shop_is_judged_by_the_causes_share_of_the_days_incidents():
    usual = [5] * 28  # 5 of the shop's 100 incidents a day
    normal = assess([*usual, 6], [100] * 29, T)
    assert not normal.alarm and normal.method.startswith("binomial test")
    assert 4.5 < normal.expected < 5.5
    surge = assess([*usual, 30], [100] * 29, T)
    assert surge.alarm and "p = " in surge.method


def test_a_busy_day_for_the_whole_shop_is_not_a_crisis_of_one_cause():
    # Twice the incidents everywhere (a sale): the cause keeps its usual share.
    assert not assess([5] * 28 + [10], [100] * 28 + [200], T).alarm


def test_a_rise_over_three_days_is_caught_by_c3_when_no_single_day_is_extreme():
    cause = [2, 6] * 6 + [10, 10, 10]
    c2, _ = ears_c2(cause)
    assert c2 <= T.ears_c2  # today alone is within three deviations
    assert assess(cause, [c + 3 for c in cause], T).alarm


@given(days, st.data())
def test_never_a_crisis_below_the_minimum_count(cause, data):
    shop = [c + data.draw(st.integers(0, 300)) for c in cause]
    cause[-1] = data.draw(st.integers(0, T.min_incidents - 1))
    shop[-1] = max(shop[-1], cause[-1])
    assert not assess(cause, shop, T).alarm


@given(days, st.data())
def test_more_incidents_of_the_cause_today_never_silence_an_alarm(cause, data):
    shop = [c + data.draw(st.integers(0, 300)) for c in cause]
    shop[-1] = max(shop[-1], cause[-1] + 1)
    before = assess(cause, shop, T)
    more = assess([*cause[:-1], cause[-1] + 1], shop, T)
    assert more.observed == before.observed + 1
    assert more.alarm or not before.alarm


@given(days, st.data())
def test_the_expected_level_comes_from_the_past_only(cause, data):
    shop = [c + data.draw(st.integers(0, 300)) for c in cause]
    today = data.draw(st.integers(0, 40))
    # Today's own count changes the verdict, never what was expected (for the same shop-wide total today).
    a = assess([*cause[:-1], today], [*shop[:-1], shop[-1] + 40], T)
    b = assess([*cause[:-1], 0], [*shop[:-1], shop[-1] + 40], T)
    assert a.expected == b.expected
