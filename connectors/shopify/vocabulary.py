"""Shopify's words that both the webhook mapping (`webhooks`) and the Admin API client (`admin`) use."""

from plugin.vocabulary import CancelReason, FinancialStatus

F = FinancialStatus
# Shopify's financial statuses, which are Redress's own words; anything else is `unknown`.
FINANCIAL = {s.value: s for s in (F.PENDING, F.AUTHORIZED, F.PARTIALLY_PAID, F.PAID, F.PARTIALLY_REFUNDED,
                                  F.REFUNDED, F.VOIDED, F.EXPIRED)}
# The statuses in which the money was captured: the order's processing time is when it was paid.
CAPTURED = frozenset({F.PAID, F.PARTIALLY_PAID, F.PARTIALLY_REFUNDED, F.REFUNDED})
CANCEL_REASONS = {"customer": CancelReason.CUSTOMER, "declined": CancelReason.PAYMENT_DECLINED,
                  "fraud": CancelReason.FRAUD, "inventory": CancelReason.INVENTORY, "staff": CancelReason.STAFF,
                  "other": CancelReason.OTHER}
# What `subscribe_webhooks` subscribes.
WEBHOOK_TOPICS = ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_PAID", "ORDERS_CANCELLED", "ORDERS_FULFILLED",
                  "ORDERS_PARTIALLY_FULFILLED", "ORDERS_DELETE", "FULFILLMENTS_CREATE", "FULFILLMENTS_UPDATE",
                  "FULFILLMENT_EVENTS_CREATE", "REFUNDS_CREATE", "APP_UNINSTALLED")
ORDER_TOPICS = {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
                "orders/partially_fulfilled", "orders/edited"}
