"""Shopify Admin GraphQL: a client that respects cost-based throttling, and the orders we reconcile.

Our own small client rather than shopifyapp's request helper: the endpoint must be overridable
(`--admin-url`), THROTTLED answers must wait for the bucket to refill, and timeouts must be retried.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import requests

from connectors.base import (
    country_code,
    currency,
    items,
    json_kind,
    line_item,
    money,
    obj,
    required_id,
    text,
    when,
)
from connectors.http import PlatformError, Refused, Retry, send
from connectors.shopify.vocabulary import CANCEL_REASONS, CAPTURED, FINANCIAL, WEBHOOK_TOPICS, F
from plugin.orders.facts import HANDED_OVER, OrderFacts, Refund, Shipment, TrackingEvent
from plugin.vocabulary import CancelReason, CompensationAction

log = logging.getLogger(__name__)
PAGE = 100


class AdminClient:
    def __init__(self, endpoint: str, token: str, retry: Retry | None = None,
                 session: requests.Session | None = None):
        self.endpoint = endpoint
        self.retry = retry or Retry()
        self.session = session or requests.Session()
        self.session.headers.update({"X-Shopify-Access-Token": token, "Content-Type": "application/json",
                                     "Accept": "application/json"})

    def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": document, "variables": variables or {}})
        for _ in range(self.retry.attempts):
            resp = send(self.session, "POST", self.endpoint, self.retry, data=body)
            if resp.status_code in (401, 403):
                raise PlatformError(f"Shopify refused the access token (HTTP {resp.status_code})",
                                    status=resp.status_code)
            if resp.status_code != 200:
                raise PlatformError(f"Shopify answered HTTP {resp.status_code}: {resp.text[:200]}",
                                    status=resp.status_code)
            try:
                payload = resp.json()
            except ValueError as exc:
                raise PlatformError("Shopify answered with something that is not JSON", retryable=True) from exc
            errors = payload.get("errors") or []
            if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                self.retry.sleep(min(throttle_wait(payload.get("extensions") or {}), self.retry.max_delay * 4))
                continue
            if errors:
                raise PlatformError("; ".join(str(e.get("message")) for e in errors))
            self._pace(payload.get("extensions") or {})
            return payload["data"]
        raise PlatformError("Shopify kept throttling the request", retryable=True)

    def _pace(self, extensions: dict[str, Any]) -> None:
        """Leave the bucket room for the next query rather than run into THROTTLED."""
        cost = extensions.get("cost") or {}
        status = cost.get("throttleStatus") or {}
        available, rate = status.get("currentlyAvailable"), status.get("restoreRate")
        need = cost.get("requestedQueryCost")
        if available is not None and rate and need and available < need:
            self.retry.sleep((need - available) / rate)


def throttle_wait(extensions: dict[str, Any]) -> float:
    cost = extensions.get("cost") or {}
    status = cost.get("throttleStatus") or {}
    need = cost.get("requestedQueryCost") or 0
    available = status.get("currentlyAvailable") or 0
    rate = status.get("restoreRate") or 50
    return max(0.1, (need - available) / rate)


ORDERS_QUERY = """
query RedressChangedOrders($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes {
      legacyResourceId
      name
      email
      createdAt
      processedAt
      updatedAt
      cancelledAt
      cancelReason
      displayFinancialStatus
      displayFulfillmentStatus
      currencyCode
      customerLocale
      requiresShipping
      tags
      paymentGatewayNames
      totalPriceSet { shopMoney { amount currencyCode } }
      totalShippingPriceSet { shopMoney { amount currencyCode } }
      customer { id firstName lastName }
      shippingAddress { countryCodeV2 provinceCode }
      shippingLine { title code }
      lineItems(first: 50) { nodes { sku title quantity } }
      refunds(first: 20) { legacyResourceId createdAt note totalRefundedSet { shopMoney { amount } } }
      fulfillments(first: 10) {
        legacyResourceId
        status
        displayStatus
        createdAt
        updatedAt
        inTransitAt
        deliveredAt
        estimatedDeliveryAt
        trackingInfo(first: 1) { company number url }
        events(first: 50, sortKey: HAPPENED_AT) { nodes { id status happenedAt message estimatedDeliveryAt } }
      }
    }
  }
}
"""


@dataclass
class Page:
    orders: list[dict[str, Any]]
    next_cursor: str | None


def changed_orders(client: AdminClient, since: datetime, cursor: str | None) -> Page:
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    data = client.execute(ORDERS_QUERY, {"first": PAGE, "after": cursor, "query": f"updated_at:>'{stamp}'"})
    conn = data.get("orders") if isinstance(data, dict) else None
    nodes = conn.get("nodes") if isinstance(conn, dict) else None
    info = conn.get("pageInfo") if isinstance(conn, dict) else None
    if not isinstance(nodes, list) or not isinstance(info, dict):
        raise PlatformError(f"Shopify answered {json_kind(nodes)} where the page of orders belongs")
    if not all(isinstance(n, dict) and isinstance(n.get("legacyResourceId"), str)
               and isinstance(n.get("updatedAt"), str) for n in nodes):
        raise PlatformError("Shopify's page of orders holds something that is not an order")
    if not info.get("hasNextPage"):
        return Page(orders=nodes, next_cursor=None)
    end = info.get("endCursor")
    if not isinstance(end, str) or not end or end == cursor:
        raise PlatformError("Shopify says more orders follow but its page cursor does not move on")
    return Page(orders=nodes, next_cursor=end)


# -- GraphQL order → OrderFacts ----------------------------------------------------------------------------

def _gid_tail(value: Any) -> str | None:
    v = text(value)
    return v.rsplit("/", 1)[-1] if v else None


def _shop_money(value: Any):
    return money(obj(obj(value, "money bag").get("shopMoney"), "shopMoney").get("amount"))


def order_facts(n: dict[str, Any]) -> OrderFacts:
    financial = (text(n.get("displayFinancialStatus")) or "").lower()
    reason = (text(n.get("cancelReason")) or "").lower() or None
    cancelled_at = when(n.get("cancelledAt"))
    customer = obj(n.get("customer"), "customer")
    names = [text(customer.get("firstName")), text(customer.get("lastName"))]
    fulfillment = (text(n.get("displayFulfillmentStatus")) or "").lower()
    return OrderFacts(
        order_id=required_id(n, "legacyResourceId"),
        number=text(n.get("name")),
        customer_email=text(n.get("email")),
        customer_id=text(customer.get("id")),
        customer_name=" ".join(x for x in names if x) or None,
        locale=text(n.get("customerLocale")),
        country=country_code(obj(n.get("shippingAddress"), "shippingAddress").get("countryCodeV2")),
        region=text(obj(n.get("shippingAddress"), "shippingAddress").get("provinceCode")),
        shipping_service=text(obj(n.get("shippingLine"), "shippingLine").get("title"))
        or text(obj(n.get("shippingLine"), "shippingLine").get("code")),
        total=_shop_money(n.get("totalPriceSet")),
        shipping=_shop_money(n.get("totalShippingPriceSet")),
        currency=currency(n.get("currencyCode")),
        financial_status=FINANCIAL.get(financial, F.UNKNOWN) if financial else None,
        fulfillment_status={"fulfilled": "fulfilled", "partially_fulfilled": "partial"}.get(fulfillment,
                                                                                             "unfulfilled"),
        platform_status=financial or None,
        payment_gateway=", ".join(str(g) for g in items(n.get("paymentGatewayNames"), "gateways")) or None,
        created_at=when(n.get("createdAt")),
        paid_at=when(n.get("processedAt")) if financial in CAPTURED else None,
        cancelled_at=cancelled_at,
        cancel_reason=CANCEL_REASONS.get(reason or "", CancelReason.OTHER) if cancelled_at else None,
        cancel_reason_raw=reason,
        updated_at=when(n.get("updatedAt")),
        tags=[str(t) for t in items(n.get("tags"), "tags")],
        requires_shipping=n.get("requiresShipping") is not False,
        shipments=[_shipment(obj(f, "fulfillment")) for f in items(n.get("fulfillments"), "fulfillments")],
        refunds=[Refund(id=required_id(r, "legacyResourceId"), amount=_shop_money(r.get("totalRefundedSet")),
                        created_at=when(r.get("createdAt")), note=text(r.get("note")))
                 for r in (obj(x, "refund") for x in items(n.get("refunds"), "refunds"))],
        items=[line_item(li.get("sku"), li.get("title"), li.get("quantity")) for li in (
            obj(x, "line item") for x in items(obj(n.get("lineItems"), "lineItems").get("nodes"), "lineItems"))],
    )


# FulfillmentDisplayStatus → the shipment_status vocabulary of webhooks.
DISPLAY_STATUS = {
    "ATTEMPTED_DELIVERY": "attempted_delivery", "CONFIRMED": "confirmed", "DELAYED": "delayed",
    "DELIVERED": "delivered", "FAILURE": "failure", "CARRIER_PICKED_UP": "carrier_picked_up",
    "IN_TRANSIT": "in_transit", "LABEL_PRINTED": "label_printed", "LABEL_PURCHASED": "label_purchased",
    "OUT_FOR_DELIVERY": "out_for_delivery", "READY_FOR_PICKUP": "ready_for_pickup", "NOT_DELIVERED": "failure",
    "PICKED_UP": "delivered", "CANCELED": "cancelled", "LABEL_VOIDED": "cancelled",
}


def _shipment(f: dict[str, Any]) -> Shipment:
    display = text(f.get("displayStatus"))
    status = DISPLAY_STATUS.get(display or "")
    created, updated = when(f.get("createdAt")), when(f.get("updatedAt"))
    tracking = obj(next(iter(items(f.get("trackingInfo"), "trackingInfo")), None), "trackingInfo entry")
    events = [TrackingEvent(id=_gid_tail(e.get("id")) or "?", status=(text(e.get("status")) or "").lower(),
                            happened_at=when(e.get("happenedAt")), message=text(e.get("message")),
                            estimated_delivery_at=when(e.get("estimatedDeliveryAt")))
              for e in (obj(x, "event") for x in items(obj(f.get("events"), "events").get("nodes"), "events"))]
    in_transit = when(f.get("inTransitAt"))
    fulfilled = text(f.get("status")) == "SUCCESS"
    shipped = in_transit or (created if (status in HANDED_OVER or (status is None and fulfilled)
                                         or display in ("FULFILLED", "MARKED_AS_FULFILLED")) else None)
    return Shipment(
        id=required_id(f, "legacyResourceId"),
        status=status,
        carrier=text(tracking.get("company")),
        tracking_number=text(tracking.get("number")),
        tracking_url=text(tracking.get("url")),
        created_at=created,
        updated_at=updated,
        shipped_at=shipped,
        estimated_delivery_at=when(f.get("estimatedDeliveryAt")),
        delivered_at=when(f.get("deliveredAt")) or (updated if status == "delivered" else None),
        events=events,
    )


# -- compensation: refunds and single-use discount codes ----------------------------------------------------

REFUND_BASIS_QUERY = """
query RedressRefundBasis($id: ID!, $shippingAmount: Money) {
  order(id: $id) {
    id
    suggestedRefund(shippingAmount: $shippingAmount) {
      shipping { amountSet { shopMoney { amount currencyCode } } maximumRefundableSet { shopMoney { amount } } }
      suggestedTransactions { gateway kind amountSet { shopMoney { amount } } parentTransaction { id } }
    }
    transactions(first: 50) { id gateway kind status }
  }
}
"""

REFUNDS_QUERY = """
query RedressRefunds($id: ID!) {
  order(id: $id) { refunds(first: 100) { id note } }
}
"""

REFUND_MUTATION = """
mutation RedressRefund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id totalRefundedSet { shopMoney { amount currencyCode } } }
    userErrors { field message }
  }
}
"""

COUPON_MUTATION = """
mutation RedressCoupon($discount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $discount) {
    codeDiscountNode { id }
    userErrors { field message code }
  }
}
"""

COUPON_BY_CODE_QUERY = """
query RedressCouponByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) { id }
}
"""


def order_gid(order_id: str) -> str:
    return order_id if order_id.startswith("gid://") else f"gid://shopify/Order/{order_id}"


def _marker(key: str) -> str:
    return f"[{key}]"


def refund(client: AdminClient, req) -> str:
    """Refund exactly `req.amount`: the ledger's amount is what leaves the shop, never more."""
    oid = order_gid(req.order_id)
    shipping = req.action == CompensationAction.REFUND_SHIPPING
    basis = client.execute(REFUND_BASIS_QUERY, {"id": oid, "shippingAmount": str(req.amount) if shipping else None})
    order = basis["order"]
    if order is None:
        raise Refused(f"order {req.order_id} does not exist in the shop")
    note = f"{req.note} {_marker(req.key)}".strip()
    refund_input: dict[str, Any] = {"orderId": oid, "note": note, "notify": True}
    if shipping:
        refund_input["shipping"] = {"amount": str(req.amount)}
        refund_input["transactions"] = _shipping_transactions(order["suggestedRefund"], req, oid)
    else:
        parents = [t for t in order["transactions"] if t["status"] == "SUCCESS" and t["kind"] in ("SALE", "CAPTURE")]
        if not parents:
            raise Refused("the order has no captured payment to refund")
        parent = parents[-1]
        refund_input["transactions"] = [{"amount": str(req.amount), "gateway": parent["gateway"], "kind": "REFUND",
                                         "orderId": oid, "parentId": parent["id"]}]
    result = client.execute(REFUND_MUTATION, {"input": refund_input, "key": req.key})["refundCreate"]
    if result["userErrors"]:
        raise Refused("; ".join(e["message"] for e in result["userErrors"]))
    return result["refund"]["id"]


def _shipping_transactions(suggested: dict[str, Any], req, oid: str) -> list[dict[str, Any]]:
    """The payments `req.amount` of shipping goes back to, adding up to exactly that amount."""
    left = Decimal(suggested["shipping"]["maximumRefundableSet"]["shopMoney"]["amount"])
    if left <= 0:
        raise Refused("nothing is left to refund for shipping")
    if left < req.amount:
        raise Refused(f"only {left} {req.currency} of shipping is left to refund, not {req.amount}")
    transactions = [
        {"amount": t["amountSet"]["shopMoney"]["amount"], "gateway": t["gateway"], "kind": "REFUND",
         "orderId": oid, "parentId": (t.get("parentTransaction") or {}).get("id")}
        for t in suggested["suggestedTransactions"]]
    if sum((Decimal(t["amount"]) for t in transactions), Decimal(0)) == req.amount:
        return transactions
    if len(transactions) == 1:
        # Shopify's suggestion may add the tax on shipping: the ledger's amount is what is paid back.
        return [{**transactions[0], "amount": str(req.amount)}]
    raise Refused(f"the shipping refund of {req.amount} {req.currency} cannot be split over the order's "
                  f"{len(transactions)} payments; nothing was refunded")


def find_refund(client: AdminClient, req) -> str | None:
    order = client.execute(REFUNDS_QUERY, {"id": order_gid(req.order_id)})["order"]
    for r in (order or {}).get("refunds") or []:
        if _marker(req.key) in (r.get("note") or ""):
            return r["id"]
    return None


def coupon(client: AdminClient, req) -> str:
    ends = req.starts_at + timedelta(days=req.valid_days or 90)
    value = ({"percentage": float(req.percent / 100)} if req.action == CompensationAction.COUPON_PERCENT
             else {"discountAmount": {"amount": str(req.amount), "appliesOnEachItem": False}})
    customer = req.customer_id if (req.customer_id or "").startswith("gid://shopify/Customer/") else None
    discount = {
        "title": f"Apology {req.code}", "code": req.code,
        "startsAt": req.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "endsAt": ends.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "usageLimit": 1, "appliesOncePerCustomer": True,
        # Only this customer may use it; a guest order has no customer record, so the code itself is the key.
        "context": {"customers": {"add": [customer]}} if customer else {"all": "ALL"},
        "customerGets": {"value": value, "items": {"all": True}},
    }
    result = client.execute(COUPON_MUTATION, {"discount": discount})["discountCodeBasicCreate"]
    errors = result["userErrors"]
    if errors:
        if any(e.get("code") == "TAKEN" for e in errors):
            found = find_coupon(client, req)
            if found:
                return found  # made by an earlier attempt whose answer was lost
        raise Refused("; ".join(e["message"] for e in errors))
    return result["codeDiscountNode"]["id"]


def find_coupon(client: AdminClient, req) -> str | None:
    node = client.execute(COUPON_BY_CODE_QUERY, {"code": req.code})["codeDiscountNodeByCode"]
    return node["id"] if node else None


# -- webhook subscriptions ------------------------------------------------------------------------------------


SUBSCRIBE_MUTATION = """
mutation RedressSubscribe($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
"""


def subscribe(client: AdminClient, uri: str) -> list[str]:
    """Subscribe every topic Redress follows to `uri`; a topic already subscribed there is left as it is."""
    made = []
    for topic in WEBHOOK_TOPICS:
        result = client.execute(SUBSCRIBE_MUTATION, {"topic": topic, "uri": uri})["webhookSubscriptionCreate"]
        errors = [e["message"] for e in result["userErrors"]]
        if errors and not all("already been taken" in m for m in errors):
            raise Refused(f"Shopify refused the {topic} subscription: {'; '.join(errors)}")
        if result["webhookSubscription"]:
            made.append(result["webhookSubscription"]["id"])
    return made


# -- connection check: one cheap read, and the subscriptions that point at us ----------------------------------

SHOP_QUERY = "query RedressCheck { shop { name } }"

WEBHOOKS_QUERY = """
query RedressWebhooks($after: String) {
  webhookSubscriptions(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { topic uri }
  }
}
"""


def shop_name(client: AdminClient) -> str:
    return client.execute(SHOP_QUERY)["shop"]["name"]


def webhooks(client: AdminClient, max_pages: int = 10) -> list[tuple[str, str]]:
    """(topic, uri) of the shop's subscriptions made by this app (the only ones the API shows)."""
    found, after = [], None
    for _ in range(max_pages):
        conn = client.execute(WEBHOOKS_QUERY, {"after": after})["webhookSubscriptions"]
        found += [(n["topic"], n["uri"]) for n in conn["nodes"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    return found
