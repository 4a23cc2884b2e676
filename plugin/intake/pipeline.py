"""From inbox rows to order snapshots and incidents, a batch at a time.

Each batch is one transaction: the deliveries are marked processed in the same commit that saves
what they changed, so a crash either keeps all of it or none, and a re-run finds nothing left to do.
Inside it each order has a savepoint, so one order that fails is rolled back alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload

import connectors
from connectors.base import PayloadError, json_object
from plugin.incidents.detect import assess
from plugin.incidents.lifecycle import Applied, apply_assessment
from plugin.orders.calendars import CalendarError
from plugin.orders.facts import Change, OrderFacts, ShopEvent, ShopEventKind
from plugin.orders.merge import merge
from plugin.orders.timing import TimingPolicy
from plugin.shops import privacy
from plugin.storage.models import Compensation, Incident, Order, OrderItem, Shop, WebhookDelivery

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
LOCKED_BATCHES = 4
ERROR_CHARS = 1000  # an error quotes the payload; a hostile one may be megabytes long


@dataclass
class BatchResult:
    deliveries: int = 0
    orders: int = 0
    opened: int = 0
    resolved: int = 0
    failed: int = 0
    compensations: list[Compensation] = field(default_factory=list)  # newly planned, to issue after commit
    retry_later: list[int] = field(default_factory=list)  # failed deliveries a later drain tries again
    deferred: list[int] = field(default_factory=list)  # about an order another worker has in hand: left pending


OrderKey = tuple[int, str]  # (shop id, the platform's order id)


class Parsed(NamedTuple):
    """A delivery about orders, read: the changes it brings to each."""

    delivery: WebhookDelivery
    shop_id: int
    changes: list[Change]


def last_delivery_id(session: Session) -> int:
    return session.execute(select(func.max(WebhookDelivery.id))).scalar() or 0


def pending_deliveries(session: Session, limit: int, skip: Iterable[int] = (),
                       upto: int | None = None) -> list[WebhookDelivery]:
    """Up to `limit` pending deliveries, shared fairly among the shops that have some: every shop's oldest
    first, then every shop's second, and so on, so a shop with a backlog of thousands (a bulk import, a
    reconciliation after an outage) never keeps another shop's new delivery waiting behind it. Within a
    shop they stay oldest first."""
    d = WebhookDelivery
    turn = func.row_number().over(partition_by=d.shop_id, order_by=d.id).label("turn")
    waiting = select(d.id, turn).where(d.processed_at.is_(None), d.attempts < MAX_ATTEMPTS)
    if upto is not None:
        waiting = waiting.where(d.id <= upto)
    skip = list(skip)
    if skip:
        waiting = waiting.where(d.id.not_in(skip))
    w = waiting.subquery()
    # Rows of the first turns only, to keep the sort short: enough for a batch of each of
    # LOCKED_BATCHES workers draining one shop at once.
    # The row's own conditions again, on the table locked: a row another worker processed and committed
    # after this statement's snapshot is re-read when locked, and only conditions on it are checked again.
    q = (select(d).join(w, w.c.id == d.id)
         .where(w.c.turn <= limit * LOCKED_BATCHES, d.processed_at.is_(None), d.attempts < MAX_ATTEMPTS)
         .order_by(w.c.turn, w.c.id).limit(limit)
         # Several workers may drain at once: each takes the next rows the others have not locked (the lock
         # is taken before the limit counts, so a second worker gets the next batch, not an empty one).
         .with_for_update(skip_locked=True, of=d))
    return sorted(session.execute(q).scalars(), key=lambda row: row.id)


def process_batch(session: Session, deliveries: list[WebhookDelivery], now: datetime) -> BatchResult:
    """Each order (with the deliveries about it) is saved in a SAVEPOINT of its own: one that raises is
    rolled back alone and its deliveries carry the error, while the rest of the batch commits."""
    result = BatchResult(deliveries=len(deliveries))
    shops = _shops(session, {d.shop_id for d in deliveries if d.shop_id is not None})
    parsed, events = _parse(deliveries, shops, now, result)
    _apply_orders(session, parsed, shops, now, result)
    # After the orders, so a redaction also covers what this very batch brought in.
    _apply_shop_events(session, events, deliveries, now, result)
    return result


ShopEvents = list[tuple[WebhookDelivery, Shop, ShopEvent]]


def _parse(deliveries: list[WebhookDelivery], shops: dict[int, Shop], now: datetime,
           result: BatchResult) -> tuple[list[Parsed], ShopEvents]:
    """Each delivery read by its platform's connector: order changes, or a shop event (uninstall, privacy)."""
    parsed: list[Parsed] = []
    events: ShopEvents = []
    for d in deliveries:
        shop = shops.get(d.shop_id) if d.shop_id is not None else None
        d.attempts += 1
        if shop is None:
            d.processed_at, d.error = now, "no active shop for this delivery"
            continue
        try:
            payload = json_object(d.body or b"")
            connector = connectors.get(shop.platform)
            event = connector.shop_event(d.topic, payload)
            if event is not None:
                events.append((d, shop, event))  # privacy requests are honoured after uninstall too
            elif not shop.active:
                d.processed_at, d.error = now, "no active shop for this delivery"
            else:
                parsed.append(Parsed(d, shop.id, connector.normalize(d.topic, payload, d.received_at)))
        except Exception as exc:  # whatever it raised concerns this delivery only
            failed(d, exc, now, result)
    return parsed, events


def _apply_orders(session: Session, parsed: list[Parsed], shops: dict[int, Shop], now: datetime,
                  result: BatchResult) -> None:
    groups = order_groups(parsed)
    free = claim_orders(session, {(p.shop_id, c.order_id) for p in parsed for c in p.changes})
    orders = _orders(session, free)
    for group in groups:
        if any((p.shop_id, c.order_id) not in free for p in group for c in p.changes):
            _defer(group, result)
            continue
        try:
            with session.begin_nested():
                applied, n = _apply_group(session, group, orders, shops, now)
        except (IntegrityError, OperationalError):
            raise  # another worker got there first, or the database itself: the whole batch is retried
        except Exception as exc:  # rolled back to its savepoint: only this order is lost
            for p in group:
                failed(p.delivery, exc, now, result)
            continue
        result.orders += n
        result.opened += applied.opened
        result.resolved += applied.resolved
        result.compensations.extend(applied.compensations)


def claim_orders(session: Session, keys: set[OrderKey]) -> set[OrderKey]:
    """The orders this batch may work on: on PostgreSQL, those no other worker's batch holds (a lock for
    the rest of this transaction, never waited for). A worker that waited would hold its own batch's
    orders meanwhile, so two workers on one backlog would take turns instead of working side by side.
    SQLite has one writer at a time: every order is free."""
    if session.get_bind().dialect.name != "postgresql" or not keys:
        return set(keys)
    ordered = sorted(keys)
    ids = [f"{shop_id}:{order_id}" for shop_id, order_id in ordered]
    got = session.execute(text("SELECT pg_try_advisory_xact_lock(hashtextextended(k, 0)) "
                               "FROM unnest(CAST(:ids AS text[])) WITH ORDINALITY AS t(k, n) ORDER BY n"),
                          {"ids": ids}).scalars().all()
    return {key for key, held in zip(ordered, got, strict=True) if held}


def _defer(group: list[Parsed], result: BatchResult) -> None:
    """Left pending, untouched and not counted as an attempt: a later batch takes them once the other
    worker's commit is in."""
    for p in group:
        p.delivery.attempts -= 1
        result.deferred.append(p.delivery.id)
    result.deliveries -= len(group)


def _apply_shop_events(session: Session, events: ShopEvents, batch: list[WebhookDelivery], now: datetime,
                       result: BatchResult) -> None:
    deleted: set[int] = set()
    for d, shop, event in events:
        if shop.id in deleted:
            d.processed_at, d.error = now, None
            continue
        try:
            with session.begin_nested():
                d.processed_at, d.error = now, None
                apply_shop_event(session, shop, event, batch, now)
                session.flush()
        except (IntegrityError, OperationalError):
            raise
        except Exception as exc:  # as for orders: only this request is lost
            failed(d, exc, now, result)
            continue
        if event.kind == ShopEventKind.REDACT_SHOP:
            deleted.add(shop.id)


def failed(d: WebhookDelivery, exc: Exception, now: datetime, result: BatchResult) -> None:
    """Record why a delivery failed. A payload that cannot be understood is done with at once; anything
    else is tried again by a later drain (never twice in one), and set aside after MAX_ATTEMPTS."""
    d.error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
    result.failed += 1
    if isinstance(exc, PayloadError):
        d.processed_at = now
        log.warning("delivery %s (%s) not understood: %s", d.id, d.topic, d.error)
        return
    if d.attempts >= MAX_ATTEMPTS:
        d.processed_at = now
    else:
        result.retry_later.append(d.id)
    log.error("delivery %s (%s) failed on attempt %d of %d%s", d.id, d.topic, d.attempts, MAX_ATTEMPTS,
              "; set aside" if d.processed_at else "; a later drain tries again", exc_info=exc)


def order_groups(parsed: list[Parsed]) -> list[list[Parsed]]:
    """Deliveries about the same order go together: they are merged, assessed and saved as one."""
    groups: list[list[Parsed]] = []
    where: dict[OrderKey, int] = {}
    for item in parsed:
        keys = {(item.shop_id, c.order_id) for c in item.changes}
        hits = sorted({where[k] for k in keys if k in where})
        index = hits[0] if hits else len(groups)
        if not hits:
            groups.append([])
        for other in hits[1:]:  # a delivery about two orders joins their groups
            groups[index].extend(groups[other])
            groups[other] = []
            where.update({k: index for k, v in where.items() if v == other})
        groups[index].append(item)
        where.update({k: index for k in keys})
    return [g for g in groups if g]


def _apply_group(session: Session, group: list[Parsed], orders: dict[OrderKey, Order],
                 shops: dict[int, Shop], now: datetime) -> tuple[Applied, int]:
    touched: dict[OrderKey, tuple[OrderFacts, str]] = {}
    for d, shop_id, changes in group:
        for c in changes:
            key = (shop_id, c.order_id)
            current = touched[key][0] if key in touched else (
                OrderFacts.from_json(orders[key].facts) if key in orders and orders[key].facts else None)
            touched[key] = (merge(current, c), f"webhook:{d.topic}")
        d.processed_at, d.error = now, None
    out = Applied()
    for (shop_id, order_id), (facts, source) in touched.items():
        order = orders.get((shop_id, order_id))
        if order is None:
            order = Order(shop_id=shop_id, platform_order_id=order_id, incidents=[])
            session.add(order)
        save_facts(order, facts)
        assessment = assess(facts, timing_for(shops[shop_id]), now, source)
        applied = apply_assessment(session, order, shops[shop_id], assessment, now)
        out.opened += applied.opened
        out.resolved += applied.resolved
        out.compensations.extend(applied.compensations)
    session.flush()  # a value the database refuses belongs to this order too
    return out, len(touched)


def apply_shop_event(session: Session, shop: Shop, event: ShopEvent, batch: list[WebhookDelivery],
                     now: datetime) -> None:
    if event.kind == ShopEventKind.UNINSTALLED:
        shop.active = False  # no more deliveries processed, no reconciliation; data stays until shop/redact
    elif event.kind == ShopEventKind.DATA_REQUEST:
        privacy.export_customer(session, shop, event, now)
    elif event.kind == ShopEventKind.REDACT_CUSTOMER:
        privacy.erase_customer(session, shop, event)
    elif event.kind == ShopEventKind.REDACT_SHOP:
        for d in batch:
            if d.shop_id == shop.id:
                d.shop_id = None  # the batch's own rows outlive the shop, marked processed
        privacy.delete_shop(session, shop)


def timing_for(shop: Shop) -> TimingPolicy:
    try:
        return TimingPolicy.build(shop.timezone, (shop.policy or {}).get("timing"))
    except CalendarError:
        # A broken saved policy must not stop detection: fall back to the defaults, loudly.
        log.warning("shop %s has an invalid timing policy; using the defaults", shop.id, exc_info=True)
        return TimingPolicy()


def save_facts(order: Order, facts: OrderFacts) -> None:
    order.facts = facts.to_json()
    order.number = facts.number
    order.customer_email = facts.customer_email
    order.total = facts.total
    order.shipping = facts.shipping
    order.currency = facts.currency
    order.financial_status = facts.financial_status
    order.fulfillment_status = facts.fulfillment_status
    order.platform_status = facts.platform_status
    order.cancelled_at = facts.cancelled_at
    order.paid_at = facts.paid_at
    order.shipped_at = facts.shipped_at
    order.delivered_at = facts.delivered_at
    order.carrier = _clip(facts.carrier, 100)
    order.country = facts.country if facts.country and len(facts.country) == 2 else None
    order.region = _clip(facts.region, 20)
    order.service = _clip(facts.shipping_service, 100)
    order.gateway = _clip(facts.payment_gateway, 100)
    order.estimated_delivery_at = facts.estimated_delivery_at
    order.source_updated_at = facts.updated_at
    order.deleted = facts.deleted_at is not None
    _save_items(order, facts)


def _save_items(order: Order, facts: OrderFacts) -> None:
    """The order's lines as rows, rewritten only when they changed (most deliveries repeat them)."""
    if not facts.complete:
        return  # a fulfillment or a scan alone says nothing of the lines
    lines = [(i.sku, i.title, i.quantity) for i in facts.items]
    if lines == [(i.sku, i.title, i.quantity) for i in order.items]:
        return
    order.items = [OrderItem(shop_id=order.shop_id, sku=sku, title=title, quantity=qty) for sku, title, qty in lines]


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def _shops(session: Session, ids: set[int]) -> dict[int, Shop]:
    if not ids:
        return {}
    return {s.id: s for s in session.execute(select(Shop).where(Shop.id.in_(ids))).scalars()}


def _orders(session: Session, keys: set[OrderKey]) -> dict[OrderKey, Order]:
    out: dict[OrderKey, Order] = {}
    by_shop: dict[int, list[str]] = {}
    for shop_id, order_id in keys:
        by_shop.setdefault(shop_id, []).append(order_id)
    for shop_id, ids in by_shop.items():
        for i in range(0, len(ids), 500):
            q = (select(Order)
                 .where(Order.shop_id == shop_id, Order.platform_order_id.in_(ids[i:i + 500]))
                 .options(selectinload(Order.incidents).selectinload(Incident.compensations),
                          selectinload(Order.items))
                 .with_for_update())
            for o in session.execute(q).scalars():
                out[(o.shop_id, o.platform_order_id)] = o
    return out
