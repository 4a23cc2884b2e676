"""The words Redress records and shows, each defined once: kinds of incident, whose fault, incident
statuses and compensation states and actions. Models, JSON, the CLI, the settings form and the rules all
use these; the stored and shown value of each member is its lower-case string.

Pure: the standard library only.
"""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"


class FinancialStatus(StrEnum):
    """An order's payment, in Redress's words (each platform's own are mapped onto these)."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    EXPIRED = "expired"
    FAILED = "failed"
    UNKNOWN = "unknown"


# The customer's money was taken, or held, at some point.
PAYMENT_TAKEN = frozenset({FinancialStatus.PAID, FinancialStatus.PARTIALLY_PAID, FinancialStatus.AUTHORIZED,
                           FinancialStatus.PARTIALLY_REFUNDED, FinancialStatus.REFUNDED})


class CancelReason(StrEnum):
    """Why an order was cancelled, in Redress's words."""

    CUSTOMER = "customer"
    PAYMENT_DECLINED = "payment_declined"
    FRAUD = "fraud"
    INVENTORY = "inventory"
    STAFF = "staff"
    OTHER = "other"
    UNPAID = "unpaid"  # never paid: abandoned or timed out


class Kind(StrEnum):
    """What went wrong with an order (README, "Incidents")."""

    PAYMENT_FAILED = "payment_failed"
    ORDER_CANCELLED = "order_cancelled"
    FULFILLMENT_LATE = "fulfillment_late"
    PICKUP_LATE = "pickup_late"
    TRANSIT_STALLED = "transit_stalled"
    DELIVERY_LATE = "delivery_late"
    DELIVERY_FAILED = "delivery_failed"
    RETURNED_TO_SENDER = "returned_to_sender"
    LOST = "lost"

    @property
    def family(self) -> Family:
        """Kinds of one family describe one episode: an order has at most one open incident per family."""
        return _FAMILY.get(self) or Family(self.value)


class Family(StrEnum):
    HANDOVER = "handover"  # fulfillment_late, then pickup_late once a label is made
    TRANSIT = "transit"  # transit_stalled, delivery_late and lost replace each other as the silence grows
    PAYMENT_FAILED = "payment_failed"
    ORDER_CANCELLED = "order_cancelled"
    DELIVERY_FAILED = "delivery_failed"
    RETURNED_TO_SENDER = "returned_to_sender"

    @property
    def awaits_delivery(self) -> bool:
        """The customer still waits for the parcel: updates keep them informed until it comes. A payment
        that failed or a cancelled order is told once, with what the customer can do."""
        return self not in (Family.PAYMENT_FAILED, Family.ORDER_CANCELLED)


_FAMILY = {Kind.FULFILLMENT_LATE: Family.HANDOVER, Kind.PICKUP_LATE: Family.HANDOVER,
           Kind.TRANSIT_STALLED: Family.TRANSIT, Kind.DELIVERY_LATE: Family.TRANSIT, Kind.LOST: Family.TRANSIT}


class Responsibility(StrEnum):
    """Whose fault an incident is."""

    SHOP = "shop"
    CARRIER = "carrier"
    CUSTOMER = "customer"
    PAYMENT = "payment"
    UNKNOWN = "unknown"


class IncidentStatus(StrEnum):
    OPEN = "open"
    AWAITING_APPROVAL = "awaiting_approval"  # a compensation waits for the merchant
    COMPENSATING = "compensating"  # a compensation is being issued
    RESOLVED = "resolved"
    DISMISSED = "dismissed"  # it had no grounds (a deleted order, a parcel nobody can follow)


OPEN_STATUSES = frozenset({IncidentStatus.OPEN, IncidentStatus.AWAITING_APPROVAL, IncidentStatus.COMPENSATING})


class CompensationState(StrEnum):
    PLANNED = "planned"
    AWAITING_APPROVAL = "awaiting_approval"
    ISSUING = "issuing"  # the platform may have acted: asked before anything is tried again
    ISSUED = "issued"
    FAILED = "failed"  # refused by the store, in its own words
    CANCELLED = "cancelled"


# What a compensation costs the shop while it is in these states (caps and budgets count it).
SPENT_STATES = frozenset({CompensationState.PLANNED, CompensationState.AWAITING_APPROVAL,
                          CompensationState.ISSUING, CompensationState.ISSUED})
# Not yet issuing: the merchant or a changed verdict can still withdraw it.
WITHDRAWABLE_STATES = frozenset({CompensationState.PLANNED, CompensationState.AWAITING_APPROVAL})


class CompensationAction(StrEnum):
    """What a compensation rule gives."""

    REFUND_SHIPPING = "refund_shipping"
    REFUND_AMOUNT = "refund_amount"
    REFUND_PERCENT = "refund_percent"
    COUPON_PERCENT = "coupon_percent"
    COUPON_AMOUNT = "coupon_amount"

    @property
    def is_coupon(self) -> bool:
        return self in (CompensationAction.COUPON_PERCENT, CompensationAction.COUPON_AMOUNT)


# A rule's `then` may be one offer instead: the customer chooses one of its options (CONTRACT.md).
OFFER = "offer"


class OfferRefusal(StrEnum):
    """Why a customer's choice of an offered option is refused (the status page words each one)."""

    NO_OFFER = "no_offer"  # this incident offers nothing to choose (any more)
    BAD_OPTION = "bad_option"  # no such option
    FINAL = "final"  # the earlier choice is being issued or was issued: it stands


class Chooser(StrEnum):
    """Who chose an offered option: the customer, or the default once the offer's time ran out."""

    CUSTOMER = "customer"
    DEFAULT = "default"


class Approval(StrEnum):
    """When a rule's compensation waits for the merchant."""

    THRESHOLD = "threshold"
    ALWAYS = "always"
    NEVER = "never"


class Audience(StrEnum):
    CUSTOMER = "customer"
    TEAM = "team"


class Purpose(StrEnum):
    """Why a message exists (CONTRACT.md, "Customer communication")."""

    OPENED = "opened"  # the first word to the customer: what happened, whose fault, what comes next
    COMPENSATION = "compensation"  # a refund or coupon issued after the first message went
    UPDATE = "update"  # news, or honestly none, before the longest silence runs out
    RESOLVED = "resolved"  # what was done, and "is this sorted for you?"
    REPLY = "reply"  # the customer's own words, from the status page
    CRISIS = "crisis"  # one update to everyone a crisis touches
    TEAM_ALERT = "team_alert"  # to the shop's team


# What goes to the customer, in the order an incident's story tells it.
CUSTOMER_PURPOSES = (Purpose.OPENED, Purpose.COMPENSATION, Purpose.UPDATE, Purpose.RESOLVED, Purpose.CRISIS)


class MessageState(StrEnum):
    QUEUED = "queued"  # recorded, not handed to the transport yet (or handed over by a run that died)
    SENT = "sent"
    FAILED = "failed"  # the transport refused it for good, in its own words


class Channel(StrEnum):
    EMAIL = "email"  # through SMTP_URL
    OUTBOX = "outbox"  # written as an .eml file when no SMTP_URL is set
    STATUS_PAGE = "status_page"  # the customer's own words, from the status page
    WEBHOOK = "webhook"  # the team's incoming webhook (Slack-compatible)


class CauseType(StrEnum):
    """What one crisis has in common (CONTRACT.md, "Merchant desk, analytics and crises")."""

    CARRIER_REGION = "carrier_region"  # one carrier's parcels to one region stall or arrive late
    PRODUCT = "product"  # one product's orders are late to leave or cancelled
    PAYMENT = "payment"  # one payment gateway's payments fail


class CrisisStatus(StrEnum):
    """Statuspage's and Cachet's incident states."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class Locale(StrEnum):
    """The languages Redress writes to customers in."""

    EN = "en"
    ES = "es"


def values(vocabulary: type[StrEnum]) -> tuple[str, ...]:
    """The stored words of a vocabulary, in its order (for choices, forms and error messages)."""
    return tuple(m.value for m in vocabulary)
