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

from datetime import datetime

from plugin.incidents.findings import Assessment, Finding, Witness
from plugin.incidents.stalls import assess_stalls
from plugin.orders.facts import OrderFacts
from plugin.orders.timing import TimingPolicy
from plugin.vocabulary import PAYMENT_TAKEN, CancelReason, Family, FinancialStatus, Kind, Responsibility

K, R, C, F = Kind, Responsibility, CancelReason, FinancialStatus
# Keyed by the plain words OrderFacts hold (a StrEnum member is its word).
CANCEL_VERDICTS: dict[str, tuple[Kind, Responsibility, str]] = {
    C.PAYMENT_DECLINED: (K.PAYMENT_FAILED, R.PAYMENT, "the payment was declined"),
    C.FRAUD: (K.ORDER_CANCELLED, R.PAYMENT, "the payment was judged fraudulent"),
    C.CUSTOMER: (K.ORDER_CANCELLED, R.CUSTOMER, "the customer cancelled"),
    C.UNPAID: (K.ORDER_CANCELLED, R.CUSTOMER, "the customer never paid"),
    C.INVENTORY: (K.ORDER_CANCELLED, R.SHOP, "items were out of stock"),
    C.STAFF: (K.ORDER_CANCELLED, R.SHOP, "the shop cancelled it"),
    C.OTHER: (K.ORDER_CANCELLED, R.SHOP, "the shop cancelled it"),
}
PAYMENT_FAILED: dict[str, str] = {F.VOIDED: "the payment was voided", F.EXPIRED: "the payment authorization expired",
                                  F.FAILED: "the payment failed"}


def assess(facts: OrderFacts, timing: TimingPolicy, now: datetime, source: str) -> Assessment:
    witness = Witness(source, now)
    if facts.deleted_at:
        return Assessment(dismiss=[witness(facts.deleted_at, "the order was deleted in the shop")])
    if not facts.complete:
        return Assessment()  # partial news only (e.g. a tracking scan): wait for the order itself
    out = assess_stalls(facts, timing, witness)
    failed = _failed(facts, witness)
    if failed is not None:
        out.findings.insert(0, failed)
    _recovered_payment(facts, witness, out)
    return out


def _failed(facts: OrderFacts, witness: Witness) -> Finding | None:
    """The cancelled order, or the payment that failed, with whose fault it is."""
    placed = witness(facts.created_at, f"order {facts.number or facts.order_id} placed")
    if facts.cancelled_at is not None:
        kind, who, why = CANCEL_VERDICTS.get(facts.cancel_reason or C.OTHER, CANCEL_VERDICTS[C.OTHER])
        raw = f" (cancel reason: {facts.cancel_reason_raw})" if facts.cancel_reason_raw else ""
        return Finding(kind, who, [placed, witness(facts.cancelled_at, f"order cancelled: {why}{raw} → {who}")],
                       since=facts.cancelled_at)
    if facts.financial_status in PAYMENT_FAILED:
        why = PAYMENT_FAILED[facts.financial_status]
        fact = f"{why} (financial status: {facts.platform_status or facts.financial_status}) → payment"
        return Finding(K.PAYMENT_FAILED, R.PAYMENT, [placed, witness(facts.updated_at, fact)],
                       since=facts.updated_at)
    return None


def _recovered_payment(facts: OrderFacts, witness: Witness, out: Assessment) -> None:
    cancelled = facts.cancelled_at is not None
    if facts.financial_status in PAYMENT_TAKEN and not (cancelled and facts.cancel_reason == C.PAYMENT_DECLINED):
        out.recovered[Family.PAYMENT_FAILED] = [witness(
            facts.paid_at or facts.updated_at, f"payment succeeded (financial status: {facts.financial_status})")]
    if not cancelled:
        out.recovered[Family.ORDER_CANCELLED] = [witness(facts.updated_at, "the order is no longer cancelled")]
