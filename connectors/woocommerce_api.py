"""WooCommerce REST (wc/v3): the store client and the orders we reconcile.

Over HTTPS the keys go as HTTP basic auth; over plain HTTP (local stores only) WooCommerce requires
OAuth 1.0a, which the `woocommerce` package signs for us. Requests reuse one connection and are retried
on 429, 5xx and timeouts, which the package itself does not do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests
from woocommerce.oauth import OAuth

from connectors.http import PlatformError, Retry, send

PAGE = 100


class StoreClient:
    def __init__(self, base_url: str, key: str, secret: str, retry: Retry | None = None,
                 session: requests.Session | None = None):
        self.base = base_url.rstrip("/") + "/wp-json/wc/v3"
        self.key, self.secret = key, secret
        self.https = base_url.startswith("https://")
        self.retry = retry or Retry()
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "Redress"})
        if self.https:
            self.session.auth = (key, secret)

    def _url(self, method: str, path: str, params: dict[str, Any]) -> str:
        url = f"{self.base}/{path.lstrip('/')}"
        if params:
            url += "?" + urlencode(params)
        if self.https:
            return url
        return OAuth(url=url, consumer_key=self.key, consumer_secret=self.secret, version="wc/v3",
                     method=method).get_oauth_url()

    def get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        resp = send(self.session, "GET", lambda: self._url("GET", path, params or {}), self.retry)
        if resp.status_code in (401, 403):
            raise PlatformError(f"the store refused the REST keys (HTTP {resp.status_code})", status=resp.status_code)
        if resp.status_code != 200:
            raise PlatformError(f"the store answered HTTP {resp.status_code}: {resp.text[:200]}",
                                status=resp.status_code)
        return resp


@dataclass
class Page:
    orders: list[dict[str, Any]]
    next_cursor: str | None


def changed_orders(client: StoreClient, since: datetime, cursor: str | None) -> Page:
    page = int(cursor or 1)
    resp = client.get("orders", {
        "modified_after": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "dates_are_gmt": "true",
        "per_page": PAGE, "page": page, "orderby": "modified", "order": "asc",
    })
    try:
        orders = resp.json()
    except ValueError as exc:
        raise PlatformError("the store answered with something that is not JSON", retryable=True) from exc
    if not isinstance(orders, list):
        raise PlatformError("the store's order list is not a list")
    total_pages = int(resp.headers.get("X-WP-TotalPages") or page)
    return Page(orders=orders, next_cursor=str(page + 1) if page < total_pages else None)
