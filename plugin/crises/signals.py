"""Whether one cause (a carrier in a region, a product, a payment gateway) is hitting clearly more customers
today than it usually does, measured against the shop's own history.

- A shop with little history: CDC's Early Aberration Reporting System, EARS C2 and C3 (Hutwagner et al.,
  "The Bioterrorism Preparedness and Response Early Aberration Reporting System (EARS)", Journal of Urban
  Health 80, 2003). C2 compares today's count with the mean and standard deviation of the 7 days that end
  3 days ago (a 2-day guard band keeps an outbreak that started yesterday out of its own baseline); C3 adds up
  the last three days' C2 excesses, so a cause that rises over a few days is caught too.
- A shop with enough history: an exact one-sided binomial test of the cause's share of today's incidents
  against its usual share (with one incident's worth of smoothing, so a cause never seen before is not
  "infinitely" unusual).

Either way, a signal needs at least a minimum count and a count clearly above the expected one, so two late
parcels on a quiet day are never a crisis. Pure domain code: counts in, a verdict with its figures out.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from scipy.stats import binom

BASELINE_DAYS = 7  # EARS C2: the week ending at the guard band
GUARD_DAYS = 2
HISTORY_DAYS = 28  # the binomial test's usual share comes from the four weeks before today
MIN_SIGMA = 1.0  # counts are whole numbers: a flat baseline of zeros must not make one incident "infinite"

DEFAULT_CRISES: dict[str, Any] = {
    "min_incidents": 8,  # never a crisis below this many in 24 hours
    "min_ratio": 2.0,  # and never below twice the expected count
    "binomial_alpha": 0.001,
    "ears_c2": 3.0,  # standard deviations above the baseline mean
    "ears_c3": 2.0,
    "history_for_binomial": 200,  # incidents in the four weeks before today: enough to trust the usual share
}


@dataclass(frozen=True)
class Thresholds:
    min_incidents: int = 8
    min_ratio: float = 2.0
    binomial_alpha: float = 0.001
    ears_c2: float = 3.0
    ears_c3: float = 2.0
    history_for_binomial: int = 200


@dataclass(frozen=True)
class Signal:
    observed: int  # this cause's incidents in the last 24 hours
    expected: float  # what its usual level predicts
    method: str  # how it was judged, in a sentence for the merchant
    alarm: bool


def assess(cause_days: list[int], shop_days: list[int], t: Thresholds) -> Signal:
    """`cause_days` and `shop_days`: incidents per day of this cause and of the whole shop, oldest first,
    the last entry being the last 24 hours (at least one entry each, the same length)."""
    observed = cause_days[-1]
    history = sum(shop_days[-HISTORY_DAYS - 1:-1])
    if history >= t.history_for_binomial:
        return _binomial(cause_days, shop_days, t)
    return _ears(cause_days, t, observed)


def _ears(days: list[int], t: Thresholds, observed: int) -> Signal:
    c2_today, expected = ears_c2(days)
    c3 = sum(max(0.0, ears_c2(days[:len(days) - k])[0] - 1.0) for k in range(3) if len(days) - k > 0)
    alarm = (c2_today > t.ears_c2 or c3 > t.ears_c3) and _clearly_above(observed, expected, t)
    return Signal(observed, round(expected, 2), f"EARS C2 {c2_today:.1f}, C3 {c3:.1f} "
                  f"(alarm above {t.ears_c2:g} or {t.ears_c3:g}) against the {BASELINE_DAYS} days before "
                  f"a {GUARD_DAYS}-day guard band", alarm)


def ears_c2(days: list[int]) -> tuple[float, float]:
    """EARS C2 of the last day of `days`: (statistic, baseline mean). Days before the shop's history began
    count as zero."""
    end = len(days) - 1 - GUARD_DAYS
    baseline = [days[i] if i >= 0 else 0 for i in range(end - BASELINE_DAYS, end)]
    mean = statistics.fmean(baseline)
    sigma = max(statistics.pstdev(baseline), MIN_SIGMA)
    return (days[-1] - mean) / sigma, mean


def _binomial(cause_days: list[int], shop_days: list[int], t: Thresholds) -> Signal:
    observed, today = cause_days[-1], shop_days[-1]
    usual_cause = sum(cause_days[-HISTORY_DAYS - 1:-1])
    usual_all = sum(shop_days[-HISTORY_DAYS - 1:-1])
    share = (usual_cause + 1) / (usual_all + 2)
    expected = today * share
    p = float(binom.sf(observed - 1, today, share)) if observed else 1.0  # P(X >= observed)
    alarm = p < t.binomial_alpha and _clearly_above(observed, expected, t)
    return Signal(observed, round(expected, 2), f"binomial test: {observed} of today's {today} incidents against "
                  f"a usual share of {share:.1%} (p = {p:.2g}, alarm below {t.binomial_alpha:g})", alarm)


def _clearly_above(observed: int, expected: float, t: Thresholds) -> bool:
    return observed >= t.min_incidents and observed >= t.min_ratio * expected


LOWEST_MINIMUM = 3  # no shop can set a crisis below this many incidents in a day

_LIMITS: dict[str, tuple[float, float]] = {
    "min_incidents": (LOWEST_MINIMUM, 10_000), "min_ratio": (1.1, 100), "binomial_alpha": (1e-9, 0.05),
    "ears_c2": (1, 10), "ears_c3": (0.5, 20), "history_for_binomial": (20, 1_000_000)}


def parse_thresholds(raw: Any) -> tuple[Thresholds, list[str]]:
    """The policy's `crises` section (missing settings take their defaults), and every problem with it."""
    if raw is None:
        return Thresholds(), []
    if not isinstance(raw, dict):
        return Thresholds(), ["Crisis settings must be an object"]
    problems = [f"Crises: unknown setting {k!r}" for k in sorted(set(raw) - set(DEFAULT_CRISES))]
    values: dict[str, Any] = {}
    for name, (low, high) in _LIMITS.items():
        value = raw.get(name, DEFAULT_CRISES[name])
        whole = isinstance(DEFAULT_CRISES[name], int)
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not float(value).is_integer()) \
                or not low <= value <= high:
            problems.append(f"Crises: {name.replace('_', ' ')} must be a {'whole ' if whole else ''}number "
                            f"from {low:g} to {high:g}, not {value!r}")
            continue
        values[name] = int(value) if whole else float(value)
    return Thresholds(**values), problems
