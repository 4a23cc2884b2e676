"""Shopify's words that both the webhook mapping (`webhooks`) and the Admin API client (`admin`) use."""

FINANCIAL = {"pending", "authorized", "partially_paid", "paid", "partially_refunded", "refunded",
             "voided", "expired"}
CANCEL_REASONS = {"customer": "customer", "declined": "payment_declined", "fraud": "fraud",
                  "inventory": "inventory", "staff": "staff", "other": "other"}
# What `subscribe_webhooks` subscribes.
WEBHOOK_TOPICS = ("ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_PAID", "ORDERS_CANCELLED", "ORDERS_FULFILLED",
                  "ORDERS_PARTIALLY_FULFILLED", "ORDERS_DELETE", "FULFILLMENTS_CREATE", "FULFILLMENTS_UPDATE",
                  "FULFILLMENT_EVENTS_CREATE", "REFUNDS_CREATE", "APP_UNINSTALLED")
ORDER_TOPICS = {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
                "orders/partially_fulfilled", "orders/edited"}
