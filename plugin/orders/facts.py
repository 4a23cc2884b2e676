"""OrderFacts: what Redress knows about one order, whatever platform it came from.

Connectors turn payloads into `Change`s; `plugin.orders.merge.merge` folds them into the snapshot.
Everything here is plain data that round-trips through JSON (the `orders.facts` column).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

# Shipment statuses (Shopify's shipment_status vocabulary, which WooCommerce tracking is mapped onto)
# that mean the parcel is in the carrier's hands.
# `available_for_pickup` and `returned_to_sender` come from WooCommerce tracking (TrackShip).
HANDED_OVER = frozenset({"carrier_picked_up", "in_transit", "out_for_delivery", "attempted_delivery",
                         "delayed", "delivered", "failure", "available_for_pickup", "returned_to_sender"})
# Before hand-over: a label exists but the carrier does not have the parcel yet.
LABEL_ONLY = frozenset({"label_purchased", "label_printed", "ready_for_pickup", "confirmed"})


@dataclass
class TrackingEvent:
    id: str
    status: str
    happened_at: datetime | None
    message: str | None = None
    estimated_delivery_at: datetime | None = None  # the carrier's estimate as of this scan


@dataclass
class Shipment:
    id: str
    status: str | None = None  # Shopify shipment_status vocabulary
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    shipped_at: datetime | None = None
    estimated_delivery_at: datetime | None = None
    delivered_at: datetime | None = None
    events: list[TrackingEvent] = field(default_factory=list)
    # No shipment of its own: the platform only said the order went out (dropped once a real one arrives).
    stand_in: bool = False

    @property
    def tracked(self) -> bool:
        """Whether the carrier's side can be followed: a tracking number, a carrier status or a scan."""
        return bool(self.tracking_number or self.events or self.status in HANDED_OVER)


@dataclass
class LineItem:
    """One line of the order, for counting incidents by product."""

    sku: str | None
    title: str
    quantity: int = 1


@dataclass
class Refund:
    id: str
    amount: Decimal | None
    created_at: datetime | None
    note: str | None = None


@dataclass
class OrderFacts:
    order_id: str
    number: str | None = None
    customer_email: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    locale: str | None = None
    country: str | None = None
    region: str | None = None  # the destination's province or state code, as the platform writes it
    shipping_service: str | None = None  # the shipping method the customer chose ("Express 24h")
    total: Decimal | None = None
    shipping: Decimal | None = None
    currency: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None  # unfulfilled | partial | fulfilled
    platform_status: str | None = None  # the platform's own word, kept for evidence
    payment_gateway: str | None = None
    created_at: datetime | None = None
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    cancel_reason_raw: str | None = None
    updated_at: datetime | None = None  # the platform's own modification time
    deleted_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    requires_shipping: bool = True
    shipments: list[Shipment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    items: list[LineItem] = field(default_factory=list)
    complete: bool = True  # False while only partial deliveries (fulfillments, events) were seen

    # -- derived facts --------------------------------------------------------------
    @property
    def shipped_at(self) -> datetime | None:
        times = [s.shipped_at for s in self.shipments if s.shipped_at]
        return min(times) if times else None

    @property
    def delivered_at(self) -> datetime | None:
        if not self.shipments or not all(s.delivered_at for s in self.shipments):
            return None
        return max(s.delivered_at for s in self.shipments if s.delivered_at)

    @property
    def carrier(self) -> str | None:
        return next((s.carrier for s in self.shipments if s.carrier), None)

    @property
    def estimated_delivery_at(self) -> datetime | None:
        times = [s.estimated_delivery_at for s in self.shipments if s.estimated_delivery_at]
        return max(times) if times else None

    # -- JSON -----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        encoded: dict[str, Any] = _encode(asdict(self))
        return encoded

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrderFacts:
        data = dict(data)
        data["shipments"] = [_shipment_from(s) for s in data.get("shipments", [])]
        data["refunds"] = [_build(Refund, r) for r in data.get("refunds", [])]
        data["items"] = [_build(LineItem, i) for i in data.get("items", [])]
        return _build(cls, data)


class ShopEventKind(StrEnum):
    UNINSTALLED = "uninstalled"  # the app was removed: no more deliveries or reconciliation
    DATA_REQUEST = "data_request"  # a customer asked what the shop holds about them
    REDACT_CUSTOMER = "redact_customer"  # erase one customer's data
    REDACT_SHOP = "redact_shop"  # erase the whole shop


@dataclass(frozen=True)
class ShopEvent:
    """Something a platform tells about the shop or a customer rather than an order."""

    kind: ShopEventKind
    customer_email: str | None = None
    order_ids: tuple[str, ...] = ()
    request_ref: str | None = None


@dataclass
class Change:
    """One thing a delivery says about one order."""

    order_id: str
    order: OrderFacts | None = None
    shipment: Shipment | None = None
    event: TrackingEvent | None = None
    event_shipment_id: str | None = None
    refund: Refund | None = None
    deleted_at: datetime | None = None
    restored: bool = False


_DT_FIELDS = {"happened_at", "created_at", "updated_at", "shipped_at", "estimated_delivery_at",
              "delivered_at", "paid_at", "cancelled_at", "deleted_at"}
_DEC_FIELDS = {"amount", "total", "shipping"}


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")  # full precision for comparisons
    if isinstance(value, Decimal):
        return str(value)
    return value


def _build(cls: type[T], data: dict[str, Any]) -> T:
    names = {f.name for f in fields(cls)}
    kwargs = {}
    for k, v in data.items():
        if k not in names:
            continue
        if v is not None and k in _DT_FIELDS:
            v = parse_iso(v)
        elif v is not None and k in _DEC_FIELDS:
            v = Decimal(v)
        kwargs[k] = v
    return cls(**kwargs)


def _shipment_from(data: dict[str, Any]) -> Shipment:
    data = dict(data)
    data["events"] = [_build(TrackingEvent, e) for e in data.get("events", [])]
    return _build(Shipment, data)


def iso(dt: datetime) -> str:
    """ISO 8601 UTC to the second, as the JSON contract shows times."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
