"""WooCommerce REST (wc/v3): the store client and the orders we reconcile.

Over HTTPS the keys go as HTTP basic auth; over plain HTTP (local stores only) WooCommerce requires
OAuth 1.0a, which the `woocommerce` package signs for us. Requests reuse one connection and are retried
on 429, 5xx and timeouts, which the package itself does not do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from woocommerce.oauth import OAuth

from connectors.http import PlatformError, Refused, Retry, send

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

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        """A write: retried only when the store says it did not process it (429)."""
        resp = send(self.session, "POST", lambda: self._url("POST", path, {}), self.retry, replay_safe=False,
                    json=body)
        if resp.status_code in (401, 403):
            raise PlatformError(f"the store refused the REST keys (HTTP {resp.status_code})", status=resp.status_code)
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


# -- compensation: refunds and coupons ------------------------------------------------------------------------

KEY_META = "_redress_idempotency_key"


def _error(resp: requests.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("message") or body.get("code") or resp.text[:200])
    except ValueError:
        return resp.text[:200]


def refund(client: StoreClient, req, api_refund: bool = True) -> str:
    # Not replay-safe: WooCommerce refunds carry no idempotency key. A lost answer is found again by the
    # key in meta_data before anything is retried.
    resp = client.post(f"orders/{req.order_id}/refunds", {
        "amount": str(req.amount), "reason": req.note, "api_refund": api_refund, "api_restock": False,
        "meta_data": [{"key": KEY_META, "value": req.key}],
    })
    if resp.status_code in (200, 201):
        return f"refund:{resp.json()['id']}"
    raise Refused(f"the store refused the refund: {_error(resp)}", status=resp.status_code)


def find_refund(client: StoreClient, req) -> str | None:
    resp = client.get(f"orders/{req.order_id}/refunds", {"per_page": 100})
    for r in resp.json():
        if any(m.get("key") == KEY_META and m.get("value") == req.key for m in r.get("meta_data") or []):
            return f"refund:{r['id']}"
    return None


def coupon(client: StoreClient, req) -> str:
    expires = (req.starts_at + timedelta(days=req.valid_days or 90)).strftime("%Y-%m-%dT%H:%M:%S")
    body = {
        "code": req.code, "description": req.note or "Apology coupon",
        "discount_type": "percent" if req.action == "coupon_percent" else "fixed_cart",
        "amount": str(req.percent if req.action == "coupon_percent" else req.amount),
        "usage_limit": 1, "usage_limit_per_user": 1, "individual_use": False, "date_expires_gmt": expires,
        "email_restrictions": [req.customer_email] if req.customer_email else [],
    }
    resp = client.post("coupons", body)
    if resp.status_code in (200, 201):
        return f"coupon:{resp.json()['id']}"
    if resp.status_code == 400 and "already" in _error(resp).lower():
        found = find_coupon(client, req)
        if found:
            return found  # made by an earlier attempt whose answer was lost
    raise Refused(f"the store refused the coupon: {_error(resp)}", status=resp.status_code)


def find_coupon(client: StoreClient, req) -> str | None:
    resp = client.get("coupons", {"code": req.code.lower()})
    found = [c for c in resp.json() if str(c.get("code", "")).lower() == req.code.lower()]
    return f"coupon:{found[0]['id']}" if found else None


# -- webhooks -------------------------------------------------------------------------------------------------

WEBHOOK_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")


def subscribe(client: StoreClient, delivery_url: str, secret: str) -> list[str]:
    """Create the order webhooks (WooCommerce creates them active and pings them); existing ones are kept."""
    existing = {(w.get("topic"), w.get("delivery_url")) for w in client.get("webhooks", {"per_page": 100}).json()}
    made = []
    for topic in WEBHOOK_TOPICS:
        if (topic, delivery_url) in existing:
            continue
        resp = client.post("webhooks", {"name": f"Redress {topic}", "topic": topic, "delivery_url": delivery_url,
                                        "secret": secret, "status": "active"})
        if resp.status_code not in (200, 201):
            raise Refused(f"the store refused the {topic} webhook: {_error(resp)}", status=resp.status_code)
        made.append(str(resp.json()["id"]))
    return made


# -- connection check -----------------------------------------------------------------------------------------

def check(client: StoreClient) -> None:
    """One cheap authenticated read: the keys work and may read orders."""
    client.get("orders", {"per_page": 1})


def webhooks(client: StoreClient) -> list[tuple[str, str, str]]:
    """(topic, delivery URL, status) of the store's webhooks; WooCommerce disables one after repeated failures."""
    hooks = client.get("webhooks", {"per_page": 100}).json()
    if not isinstance(hooks, list):
        raise PlatformError("the store's webhook list is not a list")
    return [(str(w.get("topic")), str(w.get("delivery_url")), str(w.get("status"))) for w in hooks
            if isinstance(w, dict)]
