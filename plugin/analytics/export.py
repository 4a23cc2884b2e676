"""The analytics CSV: one row per incident opened in the range, for a spreadsheet (CONTRACT.md's columns)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plugin.analytics.report import bounds
from plugin.orders.facts import iso
from plugin.orders.money import fmt
from plugin.storage.models import Incident, Order, Shop
from plugin.vocabulary import CUSTOMER_PURPOSES, Audience, CompensationState, MessageState

COLUMNS = ("id", "opened_at", "resolved_at", "kind", "responsibility", "status", "carrier", "country", "skus",
           "compensation_total", "currency", "first_message_minutes")
PAGE = 1_000


def rows(session: Session, shop: Shop, start: date, end: date) -> Iterator[str]:
    """The CSV a page at a time (header first), so a big shop's export never sits whole in memory."""
    since, until = bounds(start, end)
    yield _line(COLUMNS)
    after = 0
    while True:
        page = session.execute(select(Incident).where(
            Incident.shop_id == shop.id, Incident.opened_at >= since, Incident.opened_at < until, Incident.id > after)
            .order_by(Incident.id).limit(PAGE).options(
                selectinload(Incident.order).selectinload(Order.items), selectinload(Incident.compensations),
                selectinload(Incident.messages))).scalars().all()
        for inc in page:
            yield _line(_row(inc))
        if len(page) < PAGE:
            return
        after = page[-1].id
        session.expunge_all()


def _row(inc: Incident) -> tuple:
    o = inc.order
    given = sum((c.value or c.amount or Decimal(0) for c in inc.compensations if c.state == CompensationState.ISSUED),
                Decimal(0))
    sent = [m.sent_at for m in inc.messages if m.audience == Audience.CUSTOMER and m.purpose in CUSTOMER_PURPOSES
            and m.state == MessageState.SENT and m.sent_at]
    first = round((min(sent) - inc.opened_at).total_seconds() / 60, 1) if sent else ""
    return (inc.id, iso(inc.opened_at), iso(inc.resolved_at) if inc.resolved_at else "", inc.kind,
            inc.responsibility, inc.status, o.carrier or "", o.country or "",
            " ".join(sorted({i.sku for i in o.items if i.sku})), fmt(given, o.currency) or "0.00", o.currency or "",
            first)


def _line(values) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([_safe(v) for v in values])
    return out.getvalue()


def _safe(value) -> str:
    """A cell a spreadsheet shows as text: one starting with = + - @ would be run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
