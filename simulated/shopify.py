"""A local Shopify Admin GraphQL endpoint that behaves like the real one.

Every document is parsed and validated against the real Admin schema (2026-04) and executed by
graphql-core against in-memory orders, so a query the real API would refuse is refused here too.
Failures are scripted: "throttled" (THROTTLED with throttleStatus), "429" (with Retry-After), "500", "423",
"timeout" (answers after the client gave up), "timeout_after" (does the work, then answers too late).
A failure may name the operation it hits: ("RedressRefund", "timeout_after").

Nonsense on demand for the orders connection (`answer`): "object" (an object where the nodes list belongs),
"not_objects" (a list of strings), "endless" (the first page whatever the cursor, `hasNextPage` true forever,
a new cursor each time), "stuck" (`hasNextPage` true forever, and the cursor it was given back). From the
`refuse_after`-th request on it answers 401, so a client that loops fails its test instead of hanging it.

Money: `refundCreate` needs the `@idempotent` key (required from 2026-04) and replays the first result for
a key it has seen; it refuses to refund more than was paid, or more shipping than is left. `discountCodeBasicCreate`
refuses a code that exists (TAKEN).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from graphql import GraphQLError, VariableNode, build_schema, execute_sync, parse, validate
from werkzeug import Request, Response

SCHEMA_FILE = Path(__file__).resolve().parent / "admin-2026-04.schema.graphql"
TOKEN = "shpat_test"
PATH = "/admin/api/2026-04/graphql.json"


@cache
def admin_schema():
    # Shopify's published schema trips graphql-core 3.3's stricter deprecation rule on a few interface
    # fields; it is the platform's own description, so it is taken as valid.
    return build_schema(SCHEMA_FILE.read_text(), assume_valid=True)


def gid(kind: str, n: Any) -> str:
    return f"gid://shopify/{kind}/{n}"


def money(amount: str, currency: str = "USD") -> dict:
    return {"shopMoney": {"amount": amount, "currencyCode": currency}}


def _stamp(dt: datetime | str) -> str:
    return dt if isinstance(dt, str) else dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def order_node(order_id: int, *, updated_at: datetime, created_at: datetime, financial: str = "PAID",
               fulfillment: str = "UNFULFILLED", cancelled_at: datetime | None = None, cancel_reason: str | None = None,
               fulfillments: list[dict] | None = None, total: str = "59.00", shipping: str = "5.00",
               email: str = "ana@example.com", country: str = "US", region: str | None = "NY",
               lines: Sequence[tuple[str | None, str, int]] = (("SKU-1", "Blue mug", 1),),
               service: str | None = "Standard") -> dict:
    fs = fulfillments or []
    return {
        "id": gid("Order", order_id), "legacyResourceId": str(order_id), "name": f"#{order_id}",
        "email": email, "createdAt": _stamp(created_at), "processedAt": _stamp(created_at),
        "updatedAt": _stamp(updated_at), "cancelledAt": _stamp(cancelled_at) if cancelled_at else None,
        "cancelReason": cancel_reason, "displayFinancialStatus": financial, "displayFulfillmentStatus": fulfillment,
        "currencyCode": "USD", "customerLocale": "en", "requiresShipping": True, "tags": [],
        "paymentGatewayNames": ["shopify_payments"], "totalPriceSet": money(total),
        "totalShippingPriceSet": money(shipping),
        "customer": {"id": gid("Customer", 7), "firstName": "Ana", "lastName": "Diaz"},
        "shippingAddress": {"countryCodeV2": country, "provinceCode": region},
        "shippingLine": {"title": service, "code": None} if service else None,
        "lineItems": lambda info, first=None, **_: {"nodes": [{"sku": sku, "title": title, "quantity": qty}
                                                             for sku, title, qty in lines][:first]},
        "refunds": lambda info, first=None: [],
        "fulfillments": lambda info, first=None: fs[:first] if first else fs,
    }


def fulfillment_node(fid: int, *, created_at: datetime, updated_at: datetime | None = None,
                     display: str = "IN_TRANSIT", events: Sequence[tuple[str, datetime]] = (),
                     company: str = "UPS", number: str = "1Z999") -> dict:
    evs = [{"id": gid("FulfillmentEvent", f"{fid}{i}"), "status": status, "happenedAt": _stamp(at),
            "message": None, "estimatedDeliveryAt": None} for i, (status, at) in enumerate(events)]
    return {
        "id": gid("Fulfillment", fid), "legacyResourceId": str(fid), "status": "SUCCESS", "displayStatus": display,
        "createdAt": _stamp(created_at), "updatedAt": _stamp(updated_at or created_at), "inTransitAt": None,
        "deliveredAt": None, "estimatedDeliveryAt": None,
        "trackingInfo": lambda info, first=None: [{"company": company, "number": number, "url": None}],
        "events": lambda info, first=None, sortKey=None, **_: {"nodes": evs[:first] if first else evs},
    }


class FakeShopify:
    def __init__(self, httpserver, token: str = TOKEN):
        admin_schema()  # parsed once, before any client starts its timeout
        self.token = token
        self.orders: dict[str, dict] = {}
        self.failures: list = []  # "kind" or (operation name, "kind")
        self.payable: dict[str, dict] = {}  # order gid -> {"total", "shipping", "refunds": [...]}
        self.idempotency: dict[str, dict] = {}
        self.discounts: dict[str, dict] = {}
        self.subscriptions: dict[tuple[str, str], str] = {}  # (topic, uri) -> id
        self.requests: list[dict] = []
        self.answer: str | None = None  # nonsense for the orders connection, see above
        self.refuse_after: int | None = None
        self.timeout_seconds = 2.5  # a "timeout" answer comes after the tests' clients (2 s) gave up
        self._busy, self._busy_lock = 0, threading.Lock()
        self.available = 2000
        httpserver.expect_request(PATH, method="POST").respond_with_handler(self.handle)
        httpserver.expect_request("/admin/oauth/access_token", method="POST").respond_with_handler(self.oauth_token)
        httpserver.expect_request("/admin/oauth/authorize", method="GET").respond_with_handler(self.authorize)
        self.endpoint = httpserver.url_for(PATH)
        self.base = httpserver.url_for("").rstrip("/")
        self.tokens = {token}
        self.codes: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.token_requests: list[dict] = []
        self.client_id, self.client_secret = "app-key", "app-secret-for-tests"
        self.shop_domain = "snowdevil.myshopify.com"

    def add(self, node: dict) -> None:
        self.orders[node["legacyResourceId"]] = node

    # -- the orders connection -------------------------------------------------------------------------
    def _orders(self, info, first: int, after: str | None = None, query: str | None = None,
                sortKey: str | None = None, reverse: bool = False, **_):
        if first > 250:
            raise GraphQLError("The first argument must be less than or equal to 250")
        nodes = sorted(self.orders.values(), key=lambda n: (n["updatedAt"], int(n["legacyResourceId"])))
        if query:
            # The one search syntax Redress sends: updated_at:>'2026-11-01T00:00:00Z'
            bound = query.split(">", 1)[1].strip("'\" ")
            nodes = [n for n in nodes if n["updatedAt"] > bound]
        if after and self.answer != "endless":
            last = json.loads(base64.b64decode(after))
            nodes = [n for n in nodes if (n["updatedAt"], int(n["legacyResourceId"])) > tuple(last)]
        page = nodes[:first]
        end = (base64.b64encode(json.dumps([page[-1]["updatedAt"], int(page[-1]["legacyResourceId"])]).encode())
               .decode() if page else None)
        if self.answer == "endless":
            end = base64.b64encode(f"again-{len(self.requests)}".encode()).decode()
        if self.answer == "stuck":
            end = after or end
        return {"nodes": page, "pageInfo": {"hasNextPage": len(nodes) > first or self.answer in ("endless", "stuck"),
                                            "endCursor": end, "hasPreviousPage": bool(after), "startCursor": None}}

    def _cost(self, cost: int) -> dict:
        return {"requestedQueryCost": cost, "actualQueryCost": cost,
                "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": self.available,
                                   "restoreRate": 100.0}}

    # -- OAuth: authorization codes and expiring offline tokens -------------------------------------------------
    def authorize(self, request: Request) -> Response:
        """The merchant approves the app at once: back to the app with a code, signed like Shopify signs it."""
        import hashlib
        import hmac as hmac_mod
        from urllib.parse import urlencode

        args = request.args
        if args.get("client_id") != self.client_id:
            return Response("unknown app", 400)
        code = f"code-{len(self.codes) + 1}"
        self.codes.add(code)
        params = {"code": code, "shop": self.shop_domain, "state": args.get("state", ""),
                  "timestamp": str(int(time.time()))}
        message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params["hmac"] = hmac_mod.new(self.client_secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        return Response("", 302, headers={"Location": f"{args['redirect_uri']}?{urlencode(params)}"})

    def oauth_token(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        self.token_requests.append(body)
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return Response(json.dumps({"error": "invalid_client"}), 401, content_type="application/json")
        if body.get("grant_type") == "urn:ietf:params:oauth:grant-type:token-exchange":
            import jwt

            try:
                jwt.decode(body.get("subject_token", ""), self.client_secret, algorithms=["HS256"],
                           audience=self.client_id)
            except jwt.PyJWTError:
                return Response(json.dumps({"error": "invalid_subject_token"}), 400, content_type="application/json")
            if body.get("requested_token_type") != "urn:shopify:params:oauth:token-type:offline-access-token":
                return Response(json.dumps({"error": "invalid_request"}), 400, content_type="application/json")
        elif body.get("grant_type") == "refresh_token":
            if body.get("refresh_token") not in self.refresh_tokens:
                return Response(json.dumps({"error": "invalid_grant"}), 400, content_type="application/json")
            self.refresh_tokens.discard(body["refresh_token"])  # single use: a new one replaces it
        elif body.get("code") not in self.codes or body.get("expiring") != 1:
            return Response(json.dumps({"error": "invalid_request"}), 400, content_type="application/json")
        else:
            self.codes.discard(body["code"])
        n = len(self.token_requests)
        access, refresh = f"shpat_issued_{n}", f"shprt_issued_{n}"
        self.tokens.add(access)
        self.refresh_tokens.add(refresh)
        return Response(json.dumps({"access_token": access, "scope": "read_orders,write_orders", "expires_in": 3600,
                                    "refresh_token": refresh, "refresh_token_expires_in": 7776000}),
                        200, content_type="application/json")

    # -- money ----------------------------------------------------------------------------------------------
    def add_payable_order(self, order_id: str, total: str, shipping: str, currency: str = "USD") -> None:
        self.payable[gid("Order", order_id)] = {"total": Decimal(total), "shipping": Decimal(shipping),
                                                "currency": currency, "refunds": [], "shipping_refunded": Decimal(0)}

    def refunds_of(self, order_id: str) -> list[dict]:
        return self.payable[gid("Order", order_id)]["refunds"]

    def _order(self, info, id: str):
        o = self.payable.get(id)
        if o is None:
            return None
        refunded = sum((r["amount"] for r in o["refunds"]), Decimal(0))
        ship_left = o["shipping"] - o["shipping_refunded"]
        sale = {"id": gid("OrderTransaction", 1), "gateway": "shopify_payments", "kind": "SALE", "status": "SUCCESS"}

        def suggested(info, refundShipping=False, shippingAmount=None, **_):
            # shippingAmount overrides refundShipping, as in the real API; never more than is refundable.
            wanted = Decimal(str(shippingAmount)) if shippingAmount is not None else (
                ship_left if refundShipping else Decimal(0))
            amount = min(wanted, ship_left)
            return {"shipping": {"amountSet": money(str(amount), o["currency"]),
                                 "maximumRefundableSet": money(str(ship_left), o["currency"])},
                    "suggestedTransactions": [
                        {"gateway": "shopify_payments", "kind": "SUGGESTED_REFUND",
                         "amountSet": money(str(amount), o["currency"]), "parentTransaction": {"id": sale["id"]}}
                    ] if amount > 0 else []}
        return {"id": id, "suggestedRefund": suggested,
                "transactions": lambda info, first=None: [sale],
                "refunds": lambda info, first=None: [{"id": r["id"], "note": r["note"]} for r in o["refunds"]],
                "_refunded": refunded}

    def _refund_create(self, info, input: dict):
        directive = next((d for d in info.field_nodes[0].directives if d.name.value == "idempotent"), None)
        if directive is None:
            raise GraphQLError("The @idempotent directive with a key is required for refundCreate.")
        arg = directive.arguments[0].value
        key = self._variables.get(arg.name.value) if isinstance(arg, VariableNode) else getattr(arg, "value", None)
        if not key:
            raise GraphQLError("The idempotency key must not be empty.")
        if key in self.idempotency:
            return self.idempotency[key]
        o = self.payable.get(input["orderId"])
        if o is None:
            return {"refund": None, "userErrors": [{"field": ["orderId"], "message": "Order does not exist"}]}
        amount = sum((Decimal(str(t["amount"])) for t in input.get("transactions") or []), Decimal(0))
        refunded = sum((r["amount"] for r in o["refunds"]), Decimal(0))
        errors = []
        if amount > o["total"] - refunded:
            errors.append({"field": ["transactions"], "message": f"Refund amount ${amount} is greater than net "
                                                                 f"payment received ${o['total'] - refunded}"})
        shipping = input.get("shipping") or {}
        ship_left = o["shipping"] - o["shipping_refunded"]
        ship = ship_left if shipping.get("fullRefund") else Decimal(str(shipping.get("amount") or 0))
        if shipping and ship_left <= 0:
            errors.append({"field": ["shipping"], "message": "Shipping has already been refunded"})
        elif ship > ship_left:
            errors.append({"field": ["shipping", "amount"], "message": f"Shipping refund amount ${ship} is greater "
                                                                       f"than the refundable ${ship_left}"})
        if errors:
            return {"refund": None, "userErrors": errors}
        o["shipping_refunded"] += ship
        refund = {"id": gid("Refund", 1000 + sum(len(p["refunds"]) for p in self.payable.values())),
                  "amount": amount, "note": input.get("note"), "input": input}
        o["refunds"].append(refund)
        payload = {"refund": {"id": refund["id"], "totalRefundedSet": money(str(amount), o["currency"])},
                   "userErrors": []}
        self.idempotency[key] = payload
        return payload

    def _discount_create(self, info, basicCodeDiscount: dict):
        d = basicCodeDiscount
        if d["code"] in self.discounts:
            return {"codeDiscountNode": None, "userErrors": [{"field": ["basicCodeDiscount", "code"], "code": "TAKEN",
                                                              "message": "Code must be unique. Please try a different "
                                                                         "code."}]}
        pct = ((d.get("customerGets") or {}).get("value") or {}).get("percentage")
        if pct is not None and not 0 <= pct <= 1:
            return {"codeDiscountNode": None, "userErrors": [{"field": ["basicCodeDiscount", "customerGets"],
                                                              "code": "VALUE_OUTSIDE_RANGE",
                                                              "message": "Value must be between 0.0 and 1.0"}]}
        node = {"id": gid("DiscountCodeNode", 500 + len(self.discounts)), "input": d}
        self.discounts[d["code"]] = node
        return {"codeDiscountNode": {"id": node["id"]}, "userErrors": []}

    def _subscribe(self, info, topic: str, webhookSubscription: dict):
        key = (topic, webhookSubscription["uri"])
        if key in self.subscriptions:
            return {"webhookSubscription": None, "userErrors": [
                {"field": ["webhookSubscription", "callbackUrl"], "message": "Address for this topic has already "
                                                                             "been taken"}]}
        self.subscriptions[key] = gid("WebhookSubscription", 100 + len(self.subscriptions))
        return {"webhookSubscription": {"id": self.subscriptions[key]}, "userErrors": []}

    def _subscriptions(self, info, first: int | None = None, after: str | None = None, **_):
        nodes = [{"id": sub_id, "topic": topic, "uri": uri} for (topic, uri), sub_id in self.subscriptions.items()]
        start = int(after or 0)
        page = nodes[start:start + (first or 50)]
        more = start + len(page) < len(nodes)
        return {"nodes": page, "pageInfo": {"hasNextPage": more, "endCursor": str(start + len(page)) if page else None,
                                            "hasPreviousPage": start > 0, "startCursor": None}}

    def _by_code(self, info, code: str):
        node = self.discounts.get(code)
        return {"id": node["id"]} if node else None

    def _take_failure(self, query: str) -> str | None:
        for i, f in enumerate(self.failures):
            op, kind = f if isinstance(f, tuple) else (None, f)
            if op is None or f"{op}(" in query:
                del self.failures[i]
                return kind
        return None

    def handle(self, request: Request) -> Response:
        with self._busy_lock:
            self._busy += 1
        try:
            return self._handle(request)
        finally:
            with self._busy_lock:
                self._busy -= 1

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is being handled: a client that gave up does not stop the store's work."""
        deadline = time.monotonic() + timeout
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self._busy, "the fake store is still busy"

    def _handle(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        self.requests.append(body)
        refused = self.refuse_after is not None and len(self.requests) >= self.refuse_after
        if refused or request.headers.get("X-Shopify-Access-Token") not in self.tokens | {self.token}:
            return Response(json.dumps({"errors": "[API] Invalid API key or access token (unrecognized login or "
                                                  "wrong password)"}), 401, content_type="application/json")
        failure = self._take_failure(body.get("query") or "")
        if failure == "timeout_after":
            answer = self._answer(body)
            time.sleep(self.timeout_seconds)
            return answer
        if failure:
            if failure == "429":
                return Response("Too Many Requests", 429, headers={"Retry-After": "2.0"})
            if failure == "500":
                return Response("Internal Server Error", 500)
            if failure == "423":  # a shop locked by Shopify: every call is refused until it is unlocked
                return Response(json.dumps({"errors": "Unavailable Shop"}), 423, content_type="application/json")
            if failure == "timeout":
                time.sleep(self.timeout_seconds)
                return Response("{}", 200, content_type="application/json")
            if failure == "throttled":
                return Response(json.dumps({
                    "errors": [{"message": "Throttled", "extensions": {
                        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": {**self._cost(752), "throttleStatus": {
                        "maximumAvailable": 2000.0, "currentlyAvailable": 52, "restoreRate": 100.0}}}}),
                    200, content_type="application/json")
        return self._answer(body)

    def _answer(self, body: dict) -> Response:
        try:
            document = parse(body.get("query") or "")
        except GraphQLError as exc:
            return self._errors([exc])
        errors = validate(admin_schema(), document)
        if errors:
            return self._errors(errors)
        self._variables = body.get("variables") or {}
        root = {"orders": self._orders, "order": self._order, "codeDiscountNodeByCode": self._by_code,
                "refundCreate": self._refund_create, "discountCodeBasicCreate": self._discount_create,
                "webhookSubscriptionCreate": self._subscribe, "shop": {"name": "Snow Devil"},
                "webhookSubscriptions": self._subscriptions}
        result = execute_sync(admin_schema(), document, root_value=root, variable_values=body.get("variables") or {})
        if result.errors:
            return self._errors(result.errors)
        orders = (result.data or {}).get("orders")
        if orders and self.answer == "object":
            orders["nodes"] = {str(i): n for i, n in enumerate(orders["nodes"])}
        if orders and self.answer == "not_objects":
            orders["nodes"] = [n.get("legacyResourceId", "?") for n in orders["nodes"]]
        return Response(json.dumps({"data": result.data, "extensions": {"cost": self._cost(120)}}), 200,
                        content_type="application/json")

    @staticmethod
    def _errors(errors) -> Response:
        return Response(json.dumps({"errors": [{"message": e.message, "locations": [
            {"line": loc.line, "column": loc.column} for loc in (e.locations or [])]} for e in errors]}),
            200, content_type="application/json")
