"""The date range an analytics request asks for: `from` and `to` as YYYY-MM-DD, the last 30 days by default."""

from __future__ import annotations

from datetime import date, timedelta

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366


class RangeError(ValueError):
    """A range that cannot be read, in words for the merchant."""


def date_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    last = _day(end, "to") if end else today
    first = _day(start, "from") if start else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise RangeError("'from' must not be after 'to'")
    if (last - first).days >= MAX_DAYS:
        raise RangeError(f"a range can cover at most {MAX_DAYS} days")
    return first, last


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise RangeError(f"'{name}' must be a date written YYYY-MM-DD, not {value[:20]!r}") from None
