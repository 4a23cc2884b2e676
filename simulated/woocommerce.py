"""A local WooCommerce store speaking wc/v3: the orders endpoint with its paging, filters and auth.

Over plain HTTP WooCommerce accepts only OAuth 1.0a signed requests (HMAC-SHA256 with the consumer
secret); this fake checks the signature the same way. Failures are scripted: "429", "500", "timeout",
"timeout_after" (does the work, then answers too late); a failure may name its route: ("refunds", "500").

The order list filters like wc/v3: `modified_after` and `modified_before` are exclusive (`>` and `<`), and
`orderby=modified` gives orders of the same second in no useful order (here: newest id first). Nonsense on
demand (`answer`): "object" (an object where the list belongs), "not_objects" (a list of strings), "endless"
(the same orders whatever is asked, with X-WP-TotalPages huge); from the `refuse_after`-th list request on it
answers 401, so a client that loops fails its test instead of hanging it. `before_list(n)` runs before the n-th list
request is answered (n from 1), to change orders in the middle of a pass.

Refunds are not idempotent, as in WooCommerce: the same request twice makes two refunds. A refund above
what is left is refused (400); a coupon code is lower-cased and must be unique (400 when it exists).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import OrderedDict
from decimal import Decimal
from urllib.parse import parse_qsl

from werkzeug import Request, Response
from woocommerce.oauth import OAuth

KEY, SECRET = "ck_test", "cs_test"
PATH = "/wp-json/wc/v3/orders"


class FakeWooCommerce:
    def __init__(self, httpserver, key: str = KEY, secret: str = SECRET):
        self.key, self.secret = key, secret
        self.orders: dict[int, dict] = {}
        self.refunds: dict[int, list[dict]] = {}
        self.coupons: dict[str, dict] = {}
        self.webhooks: list[dict] = []
        self.failures: list = []
        self.requests: list[dict] = []
        self.answer: str | None = None  # nonsense for the order list, see above
        self.before_list = None
        self.refuse_after: int | None = None
        self.timeout_seconds = 2.5  # a "timeout" answer comes after the tests' clients (2 s) gave up
        httpserver.expect_request(PATH, method="GET").respond_with_handler(self.handle)
        refunds = re.compile(r"^/wp-json/wc/v3/orders/(\d+)/refunds$")
        httpserver.expect_request(refunds, method="POST").respond_with_handler(self.create_refund)
        httpserver.expect_request(refunds, method="GET").respond_with_handler(self.list_refunds)
        httpserver.expect_request("/wp-json/wc/v3/coupons", method="POST").respond_with_handler(self.create_coupon)
        httpserver.expect_request("/wp-json/wc/v3/coupons", method="GET").respond_with_handler(self.list_coupons)
        httpserver.expect_request("/wp-json/wc/v3/webhooks", method="POST").respond_with_handler(self.create_webhook)
        httpserver.expect_request("/wp-json/wc/v3/webhooks", method="GET").respond_with_handler(self.list_webhooks)
        self.url = httpserver.url_for("/").rstrip("/")

    def add(self, order: dict) -> None:
        self.orders[int(order["id"])] = order

    def _signed(self, request: Request) -> bool:
        params = OrderedDict(parse_qsl(request.query_string.decode()))
        given = params.pop("oauth_signature", None)
        if params.get("oauth_consumer_key") != self.key or not given:
            return False
        url = request.base_url
        expected = OAuth(url=url, consumer_key=self.key, consumer_secret=self.secret, version="wc/v3",
                         method=request.method).generate_oauth_signature(params, url)
        return given == expected

    def _take_failure(self, route: str) -> str | None:
        for i, f in enumerate(self.failures):
            where, kind = f if isinstance(f, tuple) else (None, f)
            if where is None or where == route:
                del self.failures[i]
                return kind
        return None

    def _guard(self, request: Request, route: str, work):
        if not self._signed(request):
            return self._error("woocommerce_rest_authentication_error", "Invalid signature - provided signature "
                               "does not match.", 401)
        failure = self._take_failure(route)
        if failure == "429":
            return Response("Too Many Requests", 429, headers={"Retry-After": "1"})
        if failure == "500":
            return self._error("internal_server_error", "There has been a critical error on this website.", 500)
        if failure == "timeout":
            time.sleep(self.timeout_seconds)
        answer = work()
        if failure == "timeout_after":
            time.sleep(self.timeout_seconds)
        return answer

    @staticmethod
    def _json(data, status: int = 200) -> Response:
        return Response(json.dumps(data), status, content_type="application/json")

    def create_refund(self, request: Request) -> Response:
        order_id = int(request.path.split("/")[-2])

        def work():
            order = self.orders.get(order_id)
            if order is None:
                return self._error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
            body = request.get_json()
            amount = Decimal(str(body.get("amount", "0")))
            done = sum((Decimal(r["amount"]) for r in self.refunds.get(order_id, [])), Decimal(0))
            if amount <= 0 or amount > Decimal(order["total"]) - done:
                return self._error("woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 400)
            refund = {"id": 900 + sum(len(v) for v in self.refunds.values()), "amount": str(amount),
                      "reason": body.get("reason", ""), "refunded_payment": bool(body.get("api_refund", True)),
                      "meta_data": body.get("meta_data") or [], "request": body}
            self.refunds.setdefault(order_id, []).append(refund)
            return self._json(refund, 201)
        return self._guard(request, "refunds", work)

    def list_refunds(self, request: Request) -> Response:
        order_id = int(request.path.split("/")[-2])
        return self._guard(request, "list_refunds", lambda: self._json(self.refunds.get(order_id, [])))

    def create_coupon(self, request: Request) -> Response:
        def work():
            body = request.get_json()
            code = str(body.get("code", "")).lower()
            if code in self.coupons:
                return self._error("woocommerce_rest_coupon_code_already_exists", "The coupon code already exists",
                                   400)
            coupon = {"id": 700 + len(self.coupons), **body, "code": code}
            self.coupons[code] = coupon
            return self._json(coupon, 201)
        return self._guard(request, "coupons", work)

    def create_webhook(self, request: Request) -> Response:
        def work():
            body = request.get_json()
            if body.get("topic") not in ("order.created", "order.updated", "order.deleted", "order.restored"):
                return self._error("rest_invalid_param", "Invalid parameter(s): topic", 400)
            hook = {"id": 16 + len(self.webhooks), "status": "active", **body}
            self.webhooks.append(hook)
            return self._json({k: v for k, v in hook.items() if k != "secret"}, 201)
        return self._guard(request, "webhooks", work)

    def list_webhooks(self, request: Request) -> Response:
        return self._guard(request, "list_webhooks",
                           lambda: self._json([{k: v for k, v in h.items() if k != "secret"} for h in self.webhooks]))

    def list_coupons(self, request: Request) -> Response:
        code = request.args.get("code", "").lower()
        return self._guard(request, "list_coupons",
                           lambda: self._json([c for k, c in self.coupons.items() if k == code]))

    @staticmethod
    def _error(code: str, message: str, status: int) -> Response:
        return Response(json.dumps({"code": code, "message": message, "data": {"status": status}}), status,
                        content_type="application/json")

    def handle(self, request: Request) -> Response:
        self.requests.append(dict(request.args))
        if self.refuse_after is not None and len(self.requests) >= self.refuse_after:
            return self._error("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401)
        if self.before_list is not None:
            self.before_list(len(self.requests))
        return self._guard(request, "orders", lambda: self._list_orders(request.args))

    def _list_orders(self, args) -> Response:
        per_page = int(args.get("per_page", 10))
        if not 1 <= per_page <= 100:
            return self._error("rest_invalid_param", "Invalid parameter(s): per_page", 400)
        if args.get("orderby", "date") not in ("date", "id", "modified"):
            return self._error("rest_invalid_param", "Invalid parameter(s): orderby", 400)
        page = int(args.get("page", 1))
        orderby = args.get("orderby", "date")
        if orderby == "id":
            orders = sorted(self.orders.values(), key=lambda o: o["id"])
        else:
            field = "date_modified_gmt" if orderby == "modified" else "date_created_gmt"
            orders = sorted(self.orders.values(), key=lambda o: (o[field], -o["id"]))
        if args.get("order", "desc") == "desc":
            orders.reverse()
        if "modified_after" in args:
            orders = [o for o in orders if o["date_modified_gmt"] > args["modified_after"]]
        if "modified_before" in args:
            orders = [o for o in orders if o["date_modified_gmt"] < args["modified_before"]]
        total = len(orders)
        chunk = orders[(page - 1) * per_page: page * per_page]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(max(1, math.ceil(total / per_page)))}
        if self.answer == "object":
            return self._json({"orders": chunk})
        if self.answer == "not_objects":
            return self._json([str(o["id"]) for o in chunk])
        if self.answer == "endless":
            first = sorted(self.orders.values(), key=lambda o: o["id"])[:per_page]
            return Response(json.dumps(first), 200, content_type="application/json",
                            headers={"X-WP-Total": "100000000", "X-WP-TotalPages": "1000000"})
        return Response(json.dumps(chunk), 200, content_type="application/json", headers=headers)
