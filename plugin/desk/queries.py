"""Finding one shop's incidents: filters read from a query string, and keyset pages newest (or oldest) first,
so the hundredth page of a million incidents costs what the first does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from plugin.analytics.ranges import RangeError, date_range
from plugin.compensation.countries import country_code
from plugin.incidents.presentation import LOADS
from plugin.storage.models import Incident, Order, OrderItem
from plugin.vocabulary import OPEN_STATUSES, IncidentStatus, Kind, Responsibility, values

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
SORTS = ("newest", "oldest")
# "active" is every status that still needs someone: open, awaiting approval, compensating.
STATUS_CHOICES = ("active", *values(IncidentStatus))


class FilterError(ValueError):
    """A filter that cannot be read, in words for the merchant."""


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    kind: str | None = None
    responsibility: str | None = None
    carrier: str | None = None
    country: str | None = None
    sku: str | None = None
    q: str | None = None
    start: date | None = None
    end: date | None = None
    sort: str = "newest"
    limit: int = DEFAULT_LIMIT
    cursor: int | None = None  # the last id of the page before, in the sort's direction

    def query(self, **changes: Any) -> dict[str, str]:
        """These filters as query-string arguments (for links to the next page), without the empty ones."""
        out = {"status": self.status, "kind": self.kind, "responsibility": self.responsibility,
               "carrier": self.carrier, "country": self.country, "sku": self.sku, "q": self.q,
               "from": self.start.isoformat() if self.start else None,
               "to": self.end.isoformat() if self.end else None,
               "sort": None if self.sort == "newest" else self.sort,
               "limit": None if self.limit == DEFAULT_LIMIT else str(self.limit)}
        out.update(changes)
        return {k: str(v) for k, v in out.items() if v not in (None, "")}


def parse_filters(args: Mapping[str, str], today: date) -> Filters:
    """Filters from a query string (`before_id` pages newest first, `after_id` oldest first)."""
    get = {k: (args.get(k) or "").strip() or None for k in
           ("status", "kind", "responsibility", "carrier", "country", "sku", "q", "from", "to", "sort", "limit",
            "before_id", "after_id")}
    _choice(get["status"], "status", STATUS_CHOICES)
    _choice(get["kind"], "kind", values(Kind))
    _choice(get["responsibility"], "responsibility", values(Responsibility))
    sort = get["sort"] or "newest"
    _choice(sort, "sort", SORTS)
    country = None
    if get["country"]:
        country = country_code(get["country"])
        if country is None:
            raise FilterError(f"country must be a country's ISO code or name, not {get['country'][:40]!r}")
    start = end = None
    if get["from"] or get["to"]:
        try:
            start, end = date_range(get["from"], get["to"], today)
        except RangeError as exc:
            raise FilterError(str(exc)) from None
        start = start if get["from"] else None
    cursor = _whole(get["before_id" if sort == "newest" else "after_id"], "before_id" if sort == "newest"
                    else "after_id", 1, None)
    limit = _whole(get["limit"], "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    return Filters(status=get["status"], kind=get["kind"], responsibility=get["responsibility"],
                   carrier=get["carrier"], country=country, sku=get["sku"], q=get["q"], start=start, end=end,
                   sort=sort, limit=limit, cursor=cursor)


def _choice(value: str | None, name: str, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise FilterError(f"{name} must be one of {', '.join(allowed)}")


def _whole(value: str | None, name: str, low: int, high: int | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or int(value) < low or (high is not None and int(value) > high):
        raise FilterError(f"{name} must be a whole number from {low}" + (f" to {high}" if high else ""))
    return int(value)


@dataclass
class Page:
    incidents: list[Incident]
    next_cursor: int | None  # the cursor of the next page; None on the last one


def find(session: Session, shop_id: int, f: Filters, loads: tuple[Any, ...] = LOADS) -> Page:
    """One page of this shop's incidents that match every filter, with what `loads` names loaded with them
    (by default what the incident JSON reads)."""
    q = _where(select(Incident).join(Incident.order), shop_id, f)
    if f.cursor is not None:
        q = q.where(Incident.id < f.cursor if f.sort == "newest" else Incident.id > f.cursor)
    q = q.order_by(Incident.id.desc() if f.sort == "newest" else Incident.id.asc()).limit(f.limit + 1)
    q = q.options(*loads)
    rows = list(session.execute(q).scalars())
    more = len(rows) > f.limit
    rows = rows[:f.limit]
    return Page(rows, rows[-1].id if more else None)


def count(session: Session, shop_id: int, f: Filters) -> int:
    return session.execute(_where(select(func.count(Incident.id)).join(Incident.order), shop_id, f)).scalar_one()


def _where(q: Select[Any], shop_id: int, f: Filters) -> Select[Any]:
    q = q.where(Incident.shop_id == shop_id)
    if f.status == "active":
        q = q.where(Incident.status.in_(sorted(OPEN_STATUSES)))
    elif f.status:
        q = q.where(Incident.status == f.status)
    if f.kind:
        q = q.where(Incident.kind == f.kind)
    if f.responsibility:
        q = q.where(Incident.responsibility == f.responsibility)
    if f.carrier:
        q = q.where(func.lower(Order.carrier) == f.carrier.lower())
    if f.country:
        q = q.where(Order.country == f.country)
    if f.sku:
        q = q.where(exists().where(OrderItem.order_id == Incident.order_id, OrderItem.sku == f.sku))
    if f.q:
        q = q.where(_search(f.q))
    if f.start:
        q = q.where(Incident.opened_at >= _midnight(f.start))
    if f.end:
        q = q.where(Incident.opened_at < _midnight(f.end + timedelta(days=1)))
    return q


def _search(text: str) -> Any:
    """An order number (with or without its #) or the customer's e-mail address, exactly."""
    if "@" in text:
        return func.lower(Order.customer_email) == text.lower()
    number = text.lstrip("#").strip()
    return Order.number.in_({number, f"#{number}"})


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), UTC)
