"""Fold changes into an order snapshot without ever moving it back in time.

Platforms deliver out of order and more than once, so every merge is idempotent and compares the
platform's own modification times: an older order payload never overwrites a newer one, a shipment
keeps its newest version, tracking events and refunds are sets keyed by their ids. A stand-in shipment
(the platform said the order went out, with nothing to follow) gives way to any real one.
"""

from __future__ import annotations

import copy
from datetime import datetime

from plugin.orders.facts import HANDED_OVER, Change, OrderFacts, Shipment


def _newer_or_same(new: datetime | None, old: datetime | None) -> bool:
    return old is None or new is None or new >= old


def _merge_shipment(current: Shipment | None, new: Shipment) -> Shipment:
    if current is None:
        return copy.deepcopy(new)
    keep_new = _newer_or_same(new.updated_at, current.updated_at)
    base, other = (copy.deepcopy(new), current) if keep_new else (copy.deepcopy(current), new)
    # A partial view (e.g. a bare tracking event) must not erase what the fuller one knew.
    for name in ("status", "carrier", "tracking_number", "tracking_url", "created_at", "updated_at", "shipped_at",
                 "estimated_delivery_at", "delivered_at"):
        if getattr(base, name) is None and getattr(other, name) is not None:
            setattr(base, name, getattr(other, name))
    # Hand-over happened at the first moment anyone saw it.
    if other.shipped_at and base.shipped_at:
        base.shipped_at = min(base.shipped_at, other.shipped_at)
    events = {e.id: e for e in other.events}
    events.update({e.id: e for e in base.events})
    base.events = sorted(events.values(), key=lambda e: (e.happened_at is None, e.happened_at, e.id))
    return base


def _merge_shipments(current: list[Shipment], incoming: list[Shipment]) -> list[Shipment]:
    by_id = {s.id: s for s in current}
    for s in incoming:
        by_id[s.id] = _merge_shipment(by_id.get(s.id), s)
    merged = list(by_id.values())
    # A stand-in only said "it went out": a real shipment, whenever it arrives, says more.
    real = [s for s in merged if not s.stand_in]
    return real or merged


def merge(current: OrderFacts | None, change: Change) -> OrderFacts:
    facts = copy.deepcopy(current) if current else OrderFacts(order_id=change.order_id, complete=False)

    if change.order is not None:
        new = change.order
        if not facts.complete or _newer_or_same(new.updated_at, facts.updated_at):
            shipments = _merge_shipments(facts.shipments, new.shipments)
            refunds = {r.id: r for r in facts.refunds} | {r.id: r for r in new.refunds}
            deleted_at = facts.deleted_at
            facts = copy.deepcopy(new)
            facts.shipments = shipments
            facts.refunds = list(refunds.values())
            facts.complete = True
            facts.deleted_at = None if change.restored else deleted_at
        else:
            # Stale order payload: its shipments may still carry news of their own.
            facts.shipments = _merge_shipments(facts.shipments, new.shipments)

    if change.shipment is not None:
        facts.shipments = _merge_shipments(facts.shipments, [change.shipment])

    if change.event is not None:
        sid = change.event_shipment_id or "unknown"
        # A newer scan moves the shipment's status along with it.
        ev = change.event
        stub = Shipment(id=sid, status=ev.status, updated_at=ev.happened_at, events=[ev],
                        estimated_delivery_at=ev.estimated_delivery_at,
                        shipped_at=ev.happened_at if ev.status in HANDED_OVER else None,
                        delivered_at=ev.happened_at if ev.status == "delivered" else None)
        facts.shipments = _merge_shipments(facts.shipments, [stub])

    if change.refund is not None and all(r.id != change.refund.id for r in facts.refunds):
        facts.refunds.append(change.refund)

    if change.deleted_at is not None and facts.deleted_at is None:
        facts.deleted_at = change.deleted_at
    return facts
