"""A local WooCommerce store speaking wc/v3: the orders endpoint with its paging, filters and auth.

Over plain HTTP WooCommerce accepts only OAuth 1.0a signed requests (HMAC-SHA256 with the consumer
secret); this fake checks the signature the same way. Failures are scripted: "429", "500", "timeout".
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from urllib.parse import parse_qsl

from werkzeug import Request, Response
from woocommerce.oauth import OAuth

KEY, SECRET = "ck_test", "cs_test"
PATH = "/wp-json/wc/v3/orders"


class FakeWooCommerce:
    def __init__(self, httpserver, key: str = KEY, secret: str = SECRET):
        self.key, self.secret = key, secret
        self.orders: dict[int, dict] = {}
        self.failures: list[str] = []
        self.requests: list[dict] = []
        self.timeout_seconds = 0.7  # how long a "timeout" answer takes; clients in tests wait 0.5 s
        httpserver.expect_request(PATH, method="GET").respond_with_handler(self.handle)
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
                         method="GET").generate_oauth_signature(params, url)
        return given == expected

    @staticmethod
    def _error(code: str, message: str, status: int) -> Response:
        return Response(json.dumps({"code": code, "message": message, "data": {"status": status}}), status,
                        content_type="application/json")

    def handle(self, request: Request) -> Response:
        args = request.args
        self.requests.append(dict(args))
        if not self._signed(request):
            return self._error("woocommerce_rest_authentication_error", "Invalid signature - provided signature "
                               "does not match.", 401)
        if self.failures:
            failure = self.failures.pop(0)
            if failure == "429":
                return Response("Too Many Requests", 429, headers={"Retry-After": "1"})
            if failure == "500":
                return self._error("internal_server_error", "There has been a critical error on this website.", 500)
            if failure == "timeout":
                time.sleep(self.timeout_seconds)
        per_page = int(args.get("per_page", 10))
        if not 1 <= per_page <= 100:
            return self._error("rest_invalid_param", "Invalid parameter(s): per_page", 400)
        page = int(args.get("page", 1))
        orders = sorted(self.orders.values(), key=lambda o: (o["date_modified_gmt"], o["id"]))
        if "modified_after" in args:
            orders = [o for o in orders if o["date_modified_gmt"] > args["modified_after"]]
        total = len(orders)
        chunk = orders[(page - 1) * per_page: page * per_page]
        return Response(json.dumps(chunk), 200, content_type="application/json",
                        headers={"X-WP-Total": str(total), "X-WP-TotalPages": str(max(1, math.ceil(total / per_page)))})
