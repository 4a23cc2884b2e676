"""A shop's timing policy: how long each step of an order may take before it counts as stalled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plugin.orders.calendars import Calendar, CalendarError

DEFAULT_TIMING: dict[str, Any] = {
    "business_days": [0, 1, 2, 3, 4],
    "business_hours": ["09:00", "18:00"],
    "holidays": [],
    "handling_business_days": 2,
    "pickup_grace_business_days": 1,
    "max_scan_gap_days": 3,
    "transit_business_days": 5,
    "transit_overrides": [],  # [{"carrier": "UPS", "country": "US", "business_days": 3}, ...]
    "lost_after_days": 14,
    "use_platform_estimate": True,
}


@dataclass(frozen=True)
class TransitOverride:
    carrier: str | None
    country: str | None
    business_days: int

    def matches(self, carrier: str | None, country: str | None) -> bool:
        return ((self.carrier is None or (carrier or "").casefold() == self.carrier.casefold())
                and (self.country is None or (country or "").upper() == self.country.upper()))

    @property
    def specificity(self) -> int:
        return (self.carrier is not None) * 2 + (self.country is not None)


@dataclass(frozen=True)
class TimingPolicy:
    calendar: Calendar = field(default_factory=Calendar)
    handling_business_days: int = 2
    pickup_grace_business_days: int = 1
    max_scan_gap_days: float = 3
    transit_business_days: int = 5
    transit_overrides: tuple[TransitOverride, ...] = ()
    lost_after_days: float = 14
    use_platform_estimate: bool = True

    def transit_days(self, carrier: str | None, country: str | None) -> int:
        """The most specific override (carrier and country, then carrier, then country) or the default."""
        matches = [o for o in self.transit_overrides if o.matches(carrier, country)]
        if not matches:
            return self.transit_business_days
        return max(matches, key=lambda o: o.specificity).business_days

    @classmethod
    def build(cls, timezone: str | None, timing: dict[str, Any] | None) -> TimingPolicy:
        t = {**DEFAULT_TIMING, **(timing or {})}
        calendar = Calendar.build(timezone or "UTC", t)
        try:
            overrides = tuple(
                TransitOverride(carrier=o.get("carrier") or None, country=o.get("country") or None,
                                business_days=_whole(o.get("business_days"), "transit override business days"))
                for o in t["transit_overrides"])
            return cls(
                calendar=calendar,
                handling_business_days=_whole(t["handling_business_days"], "handling time"),
                pickup_grace_business_days=_whole(t["pickup_grace_business_days"], "pickup grace"),
                max_scan_gap_days=_positive(t["max_scan_gap_days"], "longest gap between carrier scans"),
                transit_business_days=_whole(t["transit_business_days"], "expected transit"),
                transit_overrides=overrides,
                lost_after_days=_positive(t["lost_after_days"], "days without news before a parcel is lost"),
                use_platform_estimate=bool(t["use_platform_estimate"]),
            )
        except (AttributeError, TypeError) as exc:
            raise CalendarError(f"timing policy is not valid: {exc}") from exc


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60:
        raise CalendarError(f"{what} must be a whole number of days from 0 to 60, got {value!r}")
    return value


def _positive(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 365:
        raise CalendarError(f"{what} must be a number of days above 0, got {value!r}")
    return float(value)
