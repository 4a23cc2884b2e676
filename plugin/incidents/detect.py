"""Detection and verdict: which incidents an order's facts call for, and whose fault each is.

Pure domain code: takes OrderFacts, the shop's policy and `now`; knows no platform and no database.

Failed orders (this module's mapping, documented in the README):
| facts                                              | kind             | responsibility |
|----------------------------------------------------|------------------|----------------|
| cancelled, reason payment_declined                 | payment_failed   | payment        |
| cancelled, reason fraud                            | order_cancelled  | payment        |
| cancelled, reason customer / unpaid                | order_cancelled  | customer       |
| cancelled, reason inventory / staff / other        | order_cancelled  | shop           |
| not cancelled, financial voided / expired / failed | payment_failed   | payment        |
A payment_failed incident resolves when the order is later paid (or authorized); an order_cancelled
one when the order is no longer cancelled (restored). A deleted order dismisses its open incidents, and so
does a family that cannot be judged at all (a parcel handed over with no tracking data: `withdrawn`).

Stalled orders are judged in `plugin.incidents.stalls`. Kinds of one family describe one episode, so an order has at
most one open incident per family: `fulfillment_late` becomes `pickup_late` when a label is made, and
`transit_stalled`, `delivery_late` and `lost` replace each other as the parcel's silence grows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plugin.incidents.findings import Finding
from plugin.incidents.stalls import assess_stalls
from plugin.orders.facts import OrderFacts, iso
from plugin.orders.timing import TimingPolicy

KINDS = ("payment_failed", "order_cancelled", "fulfillment_late", "pickup_late", "transit_stalled",
         "delivery_late", "delivery_failed", "returned_to_sender", "lost")
RESPONSIBILITIES = ("shop", "carrier", "customer", "payment", "unknown")

CANCEL_VERDICTS = {
    "payment_declined": ("payment_failed", "payment", "the payment was declined"),
    "fraud": ("order_cancelled", "payment", "the payment was judged fraudulent"),
    "customer": ("order_cancelled", "customer", "the customer cancelled"),
    "unpaid": ("order_cancelled", "customer", "the customer never paid"),
    "inventory": ("order_cancelled", "shop", "items were out of stock"),
    "staff": ("order_cancelled", "shop", "the shop cancelled it"),
    "other": ("order_cancelled", "shop", "the shop cancelled it"),
}
PAYMENT_FAILED = {"voided": "the payment was voided", "expired": "the payment authorization expired",
                  "failed": "the payment failed"}
PAID = {"paid", "partially_paid", "authorized", "partially_refunded", "refunded"}
FAMILY = {"fulfillment_late": "handover", "pickup_late": "handover",
          "transit_stalled": "transit", "delivery_late": "transit", "lost": "transit"}


def family(kind: str) -> str:
    return FAMILY.get(kind, kind)


@dataclass
class Assessment:
    findings: list[Finding] = field(default_factory=list)
    recovered: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # family -> evidence
    dismiss: list[dict[str, Any]] | None = None
    withdrawn: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # family -> why it has no grounds
    next_check_at: datetime | None = None


def _ev(at: datetime | None, source: str, fact: str, now: datetime) -> dict[str, Any]:
    return {"at": iso(at or now), "source": source, "fact": fact}


def assess(facts: OrderFacts, timing: TimingPolicy, now: datetime, source: str) -> Assessment:
    out = Assessment()
    if facts.deleted_at:
        out.dismiss = [_ev(facts.deleted_at, source, "the order was deleted in the shop", now)]
        return out
    if not facts.complete:
        return out  # partial news only (e.g. a tracking scan): wait for the order itself

    placed = _ev(facts.created_at, source, f"order {facts.number or facts.order_id} placed", now)
    cancelled = facts.cancelled_at is not None
    if cancelled:
        kind, who, why = CANCEL_VERDICTS.get(facts.cancel_reason or "other", CANCEL_VERDICTS["other"])
        raw = f" (cancel reason: {facts.cancel_reason_raw})" if facts.cancel_reason_raw else ""
        fact = f"order cancelled: {why}{raw} → {who}"
        out.findings.append(Finding(kind, who, [placed, _ev(facts.cancelled_at, source, fact, now)],
                                    since=facts.cancelled_at))
    elif facts.financial_status in PAYMENT_FAILED:
        why = PAYMENT_FAILED[facts.financial_status]
        fact = f"{why} (financial status: {facts.platform_status or facts.financial_status}) → payment"
        out.findings.append(Finding("payment_failed", "payment",
                                    [placed, _ev(facts.updated_at, source, fact, now)], since=facts.updated_at))

    if facts.financial_status in PAID and not (cancelled and facts.cancel_reason == "payment_declined"):
        out.recovered["payment_failed"] = [
            _ev(facts.paid_at or facts.updated_at, source,
                f"payment succeeded (financial status: {facts.financial_status})", now)]
    if not cancelled:
        out.recovered["order_cancelled"] = [
            _ev(facts.updated_at, source, "the order is no longer cancelled", now)]

    stalls = assess_stalls(facts, timing, now, source)
    out.findings.extend(stalls.findings)
    out.recovered.update(stalls.recovered)
    out.withdrawn.update(stalls.withdrawn)
    out.next_check_at = stalls.next_check_at
    return out
