"""Every shop's incidents of the last four weeks and a day, counted by day and by cause, in one read per
kind of cause: what crisis detection weighs today's counts against.

Causes: a carrier's parcels to one region (carrier-fault incidents), a product (shop-fault incidents of
orders with that SKU), a payment gateway (failed payments). Day 0 is the last 24 hours.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.crises.signals import HISTORY_DAYS
from plugin.storage.models import Incident, Order, OrderItem
from plugin.vocabulary import CauseType, Kind, Responsibility

DAYS = HISTORY_DAYS + 1
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Cause:
    type: CauseType
    fields: tuple[tuple[str, str], ...]  # ("carrier", "Correos"), ("country", "ES"), ("region", "GA")

    @property
    def key(self) -> str:
        return f"{self.type}:" + "|".join(v for _, v in self.fields)

    def as_json(self) -> dict[str, Any]:
        return {"type": str(self.type), **dict(self.fields)}


@dataclass
class ShopCounts:
    total: list[int] = field(default_factory=lambda: [0] * DAYS)  # oldest first
    by_cause: dict[Cause, list[int]] = field(default_factory=dict)

    def add(self, cause: Cause | None, day: int) -> None:
        if cause is not None:
            self.by_cause.setdefault(cause, [0] * DAYS)[DAYS - 1 - day] += 1


def count_all(session: Session, now: datetime, shop_ids: list[int] | None = None) -> dict[int, ShopCounts]:
    since = now - DAYS * DAY
    shops: dict[int, ShopCounts] = defaultdict(ShopCounts)
    base = (select(Incident.shop_id, Incident.opened_at, Incident.id).select_from(Incident)
            .where(Incident.opened_at > since, Incident.opened_at <= now))
    if shop_ids is not None:
        base = base.where(Incident.shop_id.in_(shop_ids))
    conn = session.connection()  # plain rows: tens of thousands of them on a big instance
    for shop_id, opened, _ in conn.execute(base):
        shops[shop_id].total[DAYS - 1 - _day(now, opened)] += 1
    for shop_id, opened, cause in _causes(conn, base):
        shops[shop_id].add(cause, _day(now, opened))
    return dict(shops)


def _day(now: datetime, opened: datetime) -> int:
    return min(int((now - opened) / DAY), DAYS - 1)


def _causes(conn, base):
    with_order = base.join(Order, Order.id == Incident.order_id)
    lanes = with_order.add_columns(Order.carrier, Order.country, Order.region).where(
        Incident.responsibility == Responsibility.CARRIER, Order.carrier.is_not(None))
    for shop_id, opened, _, carrier, country, region in conn.execute(lanes):
        yield shop_id, opened, carrier_region(carrier, country, region)
    gateways = with_order.add_columns(Order.gateway).where(
        Incident.kind == Kind.PAYMENT_FAILED, Order.gateway.is_not(None))
    for shop_id, opened, _, gateway in conn.execute(gateways):
        yield shop_id, opened, _cause(CauseType.PAYMENT, (("gateway", gateway),))
    products = with_order.join(OrderItem, OrderItem.order_id == Order.id).add_columns(OrderItem.sku).where(
        Incident.responsibility == Responsibility.SHOP, OrderItem.sku.is_not(None)).distinct()  # a SKU on two lines
    for shop_id, opened, _, sku in conn.execute(products):
        yield shop_id, opened, _cause(CauseType.PRODUCT, (("sku", sku),))


def carrier_region(carrier: str, country: str | None, region: str | None) -> Cause:
    return _cause(CauseType.CARRIER_REGION, (("carrier", carrier), ("country", country or ""),
                                             ("region", region or "")))


@lru_cache(maxsize=65_536)
def _cause(kind: CauseType, fields: tuple[tuple[str, str], ...]) -> Cause:
    return Cause(kind, fields)  # the same few thousand causes come back on every row and every pass


def cause_of(incident: Incident) -> list[Cause]:
    """The causes one incident counts for (to join an open crisis of one of them)."""
    order = incident.order
    if incident.responsibility == Responsibility.CARRIER and order.carrier:
        return [carrier_region(order.carrier, order.country, order.region)]
    if incident.kind == Kind.PAYMENT_FAILED and order.gateway:
        return [Cause(CauseType.PAYMENT, (("gateway", order.gateway),))]
    if incident.responsibility == Responsibility.SHOP:
        return [Cause(CauseType.PRODUCT, (("sku", i.sku),)) for i in order.items if i.sku]
    return []
